"""Customer-page actions about the grade: add a data source, override the tier, record a review."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from customers.access import access_customer, can_add_sources, can_edit_customer, can_override_tier
from customers.choices import Tier
from customers.exceptions import NotAllowed
from customers.forms import OverrideForm, source_form_class
from customers.services import SOURCE_MODELS, customer_reviewed, override_create, source_add


def _grade_message(request, customer, before: str) -> None:
    customer.refresh_from_db(fields=["tier", "score"])
    if customer.tier != before:
        messages.info(
            request,
            _("The tier changed from %(old)s to %(new)s.")
            % {"old": Tier(before).label, "new": Tier(customer.tier).label},
        )


@require_http_methods(["GET", "POST"])
def source_create(request: HttpRequest, customer_code, kind: str) -> HttpResponse:
    customer = access_customer(request.user, customer_code)
    if not can_add_sources(request.user):
        raise PermissionDenied
    form = source_form_class(kind)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        before = customer.tier
        source_add(kind, customer=customer, by=request.user, **form.cleaned_data)
        messages.success(
            request, _("%(what)s saved.") % {"what": str(SOURCE_MODELS[kind]._meta.verbose_name).capitalize()}
        )
        _grade_message(request, customer, before)
        return redirect(reverse("customers:detail", args=[customer.code]) + "#sources")
    return render(
        request,
        "customers/source_form.html",
        {"form": form, "customer": customer, "title": SOURCE_MODELS[kind]._meta.verbose_name},
    )


@require_http_methods(["GET", "POST"])
def override_create_view(request: HttpRequest, customer_code) -> HttpResponse:
    customer = access_customer(request.user, customer_code)
    if not can_override_tier(request.user):
        raise PermissionDenied
    form = OverrideForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        before = customer.tier
        try:
            override_create(
                customer=customer,
                by=request.user,
                tier=form.cleaned_data["tier"],
                reason=form.cleaned_data["reason"],
                expires_at=form.expires_at(),
            )
        except NotAllowed:
            form.add_error("expires_on", _("The date must not be in the past."))
        else:
            messages.success(request, _("Override saved; the computed grade stays visible beside it."))
            _grade_message(request, customer, before)
            return redirect("customers:detail", customer.code)
    return render(request, "customers/override_form.html", {"form": form, "customer": customer})


@require_POST
def customer_review(request: HttpRequest, customer_code) -> HttpResponse:
    customer = access_customer(request.user, customer_code)
    if not (can_edit_customer(request.user, customer) or can_override_tier(request.user)):
        raise PermissionDenied
    customer_reviewed(customer=customer, by=request.user)
    messages.success(request, _("Review recorded."))
    return redirect("customers:detail", customer.code)
