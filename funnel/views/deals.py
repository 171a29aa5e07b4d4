"""The deal pages: create, edit, detail, checklist and documents. Thin: access helper → form →
one service call → redirect or render."""

import copy

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import panels
from customers.access import access_customer
from funnel import services
from funnel.access import access_deal, can_work_deal, can_work_deals
from funnel.deciders import decide_refusal
from funnel.exceptions import NotAllowed
from funnel.forms import (
    ChecklistForm,
    DealForm,
    DocumentForm,
    ExceptionRequestForm,
    MoveForm,
)
from funnel.models import StageSetting
from funnel.selectors import deal_page


@require_GET
def deal_detail(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code)
    context = {
        "deal": deal,
        "customer": deal.customer,
        "can_work": can_work_deal(request.user, deal),
        **deal_page(deal),
    }
    pending = context["pending_exception"]
    context["can_decide"] = pending is not None and decide_refusal(request.user, pending, deal) is None
    context["move_form"] = MoveForm(deal=deal, settings=context["settings"])
    context["document_form"] = DocumentForm()
    context["exception_form"] = ExceptionRequestForm()
    # Sections other apps add (crm.panels), e.g. risk's facility of a funded deal.
    context["panels"] = panels.render_panels(panels.DEAL_PAGE, request, deal)
    return render(request, "funnel/deal_detail.html", context)


@require_http_methods(["GET", "POST"])
def deal_create(request: HttpRequest) -> HttpResponse:
    if not can_work_deals(request.user):
        raise PermissionDenied
    customer = None
    if code := request.GET.get("customer"):
        try:
            customer = access_customer(request.user, code)  # missing or not theirs: 404
        except ValidationError as exc:  # not a UUID at all: the same answer
            raise Http404 from exc
    form = DealForm(request.POST or None, user=request.user, customer=customer)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        deal = services.deal_create(by=request.user, customer=data.pop("customer"), **data)
        first = StageSetting.objects.by_stage().get(deal.stage)
        messages.success(
            request,
            _("Deal %(title)s created in %(stage)s.")
            % {"title": deal.title, "stage": first.label if first else deal.get_stage_display()},
        )
        return redirect("funnel:detail", deal.code)
    return render(request, "funnel/deal_form.html", {"form": form, "deal": None, "customer": customer})


@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    if not deal.is_open:
        messages.info(request, _("A closed deal cannot be edited."))
        return redirect("funnel:detail", deal.code)
    # The ModelForm writes submitted values onto its instance while validating; give it a copy
    # so the service compares against what is stored.
    form = DealForm(request.POST or None, instance=copy.copy(deal), user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            changed = services.deal_update(deal=deal, by=request.user, **data)
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Changes saved.") if changed else _("Nothing was changed."))
            return redirect("funnel:detail", deal.code)
    return render(request, "funnel/deal_form.html", {"form": form, "deal": deal, "customer": deal.customer})


@require_POST
def checklist_set(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    form = ChecklistForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That checklist item no longer exists."))
        return redirect("funnel:detail", deal.code)
    try:
        services.checklist_set(
            deal=deal, item=form.cleaned_data["item"], by=request.user, done=form.cleaned_data["done"]
        )
    except NotAllowed as exc:
        messages.error(request, str(exc))
    return redirect(f"{deal_url(deal)}#checklist")


def deal_url(deal) -> str:
    return reverse("funnel:detail", args=[deal.code])


@require_http_methods(["GET", "POST"])
def document_create(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    form = DocumentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.document_add(deal=deal, by=request.user, **form.cleaned_data)
        messages.success(request, _("Document recorded."))
        return redirect(f"{deal_url(deal)}#documents")
    return render(request, "funnel/document_form.html", {"deal": deal, "customer": deal.customer, "form": form})
