import copy

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import keyset, panels
from customers import services
from customers.access import (
    access_contact,
    access_customer,
    can_add_sources,
    can_create_customer,
    can_edit_customer,
    can_override_tier,
    customers_for,
)
from customers.exceptions import DuplicateCreditCode
from customers.filters import CustomerFilter
from customers.forms import ActivityForm, ContactForm, CustomerForm
from customers.selectors.customers import customer_grading, customer_history, customer_sources

PAGE_SIZE = 50


@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    """Keyset pages in the chosen sort (crm.keyset): no OFFSET and no full COUNT, so a deep page
    costs what the first costs, and the cursor is looked up among the user's filtered rows."""
    visible = customers_for(request.user)
    filterset = CustomerFilter(request.GET or None, queryset=visible, request=request)
    customers = filterset.qs.select_related("owner", "team")
    context = {
        **keyset.page_context(request, customers, order=filterset.order, size=PAGE_SIZE),
        "filter": filterset,
        "can_create": can_create_customer(request.user),
    }
    template = "customers/customer_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


@require_GET
def customer_detail(request: HttpRequest, customer_code) -> HttpResponse:
    customer = access_customer(request.user, customer_code)
    can_edit = can_edit_customer(request.user, customer)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "contacts": list(customer.contacts.all()),
            "activities": list(customer.activities.select_related("author")[:50]),
            "history": customer_history(customer),
            "grading": customer_grading(customer, today=timezone.localdate()),
            "sources": customer_sources(customer),
            "can_edit": can_edit,
            "can_add_sources": can_add_sources(request.user),
            "can_override": can_override_tier(request.user),
            "can_review": can_edit or can_override_tier(request.user),
            "activity_form": ActivityForm(),
            # Sections other apps add (crm.panels), e.g. risk's facilities.
            "panels": panels.render_panels(panels.CUSTOMER_PAGE, request, customer),
        },
    )


def _save_customer_form(request, form, save) -> HttpResponse | None:
    """Run ``save(cleaned_data)``; turn a lost race on the credit code into a field error."""
    if not form.is_valid():
        return None
    data = dict(form.cleaned_data)
    try:
        return save(data)
    except DuplicateCreditCode:
        form.add_error(
            "credit_code",
            form.fields["credit_code"].error_messages.get("unique")
            or _("A customer with this credit code is already registered."),
        )
        return None


@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    if not can_create_customer(request.user):
        raise PermissionDenied
    form = CustomerForm(request.POST or None, user=request.user)
    if request.method == "POST":

        def save(data):
            owner = data.pop("owner", request.user)
            customer = services.customer_create(by=request.user, owner=owner, **data)
            messages.success(request, _("Customer %(name)s created.") % {"name": customer.name})
            return redirect("customers:detail", customer.code)

        response = _save_customer_form(request, form, save)
        if response:
            return response
    return render(request, "customers/customer_form.html", {"form": form, "customer": None})


@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_code) -> HttpResponse:
    customer = access_customer(request.user, customer_code, for_update=True)
    # The ModelForm writes submitted values onto its instance while validating; give it a copy
    # so the service compares against what is stored and records real changes only.
    form = CustomerForm(request.POST or None, instance=copy.deepcopy(customer), user=request.user)
    if request.method == "POST":

        def save(data):
            changed = services.customer_update(customer=customer, by=request.user, **data)
            if changed:
                messages.success(request, _("Changes saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("customers:detail", customer.code)

        response = _save_customer_form(request, form, save)
        if response:
            return response
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest, customer_code) -> HttpResponse:
    customer = access_customer(request.user, customer_code, for_update=True)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = form.save(commit=False)
        contact.customer = customer
        services.contact_save(contact=contact, by=request.user)
        messages.success(request, _("Contact %(name)s added.") % {"name": contact.name})
        return redirect("customers:detail", customer.code)
    return render(request, "customers/contact_form.html", {"form": form, "customer": customer, "contact": None})


@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, customer_code, contact_code) -> HttpResponse:
    contact = access_contact(request.user, customer_code, contact_code, for_update=True)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        services.contact_save(contact=form.save(commit=False), by=request.user)
        messages.success(request, _("Contact %(name)s saved.") % {"name": contact.name})
        return redirect("customers:detail", contact.customer.code)
    return render(
        request,
        "customers/contact_form.html",
        {"form": form, "customer": contact.customer, "contact": contact},
    )


@require_POST
def contact_delete(request: HttpRequest, customer_code, contact_code) -> HttpResponse:
    contact = access_contact(request.user, customer_code, contact_code, for_update=True)
    services.contact_delete(contact=contact, by=request.user)
    messages.success(request, _("Contact %(name)s removed.") % {"name": contact.name})
    return redirect("customers:detail", contact.customer.code)


@require_POST
def activity_create(request: HttpRequest, customer_code) -> HttpResponse:
    customer = access_customer(request.user, customer_code)
    form = ActivityForm(request.POST)
    if form.is_valid():
        services.activity_log(customer=customer, by=request.user, **form.cleaned_data)
        messages.success(request, _("Note added."))
    else:
        for error in form.errors.get("body", []):
            messages.error(request, error)
    return redirect("customers:detail", customer.code)
