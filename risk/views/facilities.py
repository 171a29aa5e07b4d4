"""The facility pages: the list (keyset pages, filters, CSV/XLSX export), one facility's page,
and recording one repayment from it. Thin: access helper → form → one service call → redirect
or render.

The list is cut into keyset pages by crm.keyset on (start_date, id), newest facility first,
like the deal and alert lists; the cursor is a facility code looked up among the user's
visible, filtered facilities, so it reveals nothing about anyone else's."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm import keyset
from funnel.exchange import XLSX_MAX_ROWS, too_many_for_xlsx
from risk import exports
from risk.access import access_facility, can_import_repayments, facilities_for
from risk.exceptions import ConcurrentChange, RepaymentRefused
from risk.filters import FacilityFilter
from risk.forms import RepaymentForm
from risk.models import Facility
from risk.selectors.facility_pages import KEYSET_FIELD, ORDER, facility_page, for_list
from risk.services import repayment_enter


def _filtered(request: HttpRequest) -> tuple[FacilityFilter, QuerySet[Facility]]:
    """The user's visible facilities with today's overdue figures, narrowed by the filter
    form: the one query behind both the list and the export."""
    today = timezone.localdate()
    filterset = FacilityFilter(
        request.GET or None,
        queryset=for_list(facilities_for(request.user), today=today),
        request=request,
        today=today,
    )
    return filterset, filterset.qs


@require_GET
def facility_list(request: HttpRequest) -> HttpResponse:
    filterset, facilities = _filtered(request)
    context = {
        **keyset.page_context(request, facilities, field=KEYSET_FIELD),
        "filter": filterset,
        "can_import": can_import_repayments(request.user),
    }
    template = "risk/facility_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


@require_GET
def facility_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Every facility of the list as the user filtered it (same query parameters), not one page."""
    _filterset, facilities = _filtered(request)
    facilities = facilities.order_by(*ORDER)
    if fmt == "xlsx" and too_many_for_xlsx(facilities):
        messages.error(
            request,
            _("More than %(limit)s facilities match: too many for one Excel sheet. Narrow the filters or export CSV.")
            % {"limit": f"{XLSX_MAX_ROWS:,}"},
        )
        query = keyset.query_without_cursor(request)
        return redirect(reverse("risk:facilities") + (f"?{query}" if query else ""))
    return exports.download(facilities, fmt)


def _page(request: HttpRequest, facility: Facility, *, form: RepaymentForm | None = None) -> HttpResponse:
    can_record = can_import_repayments(request.user)
    today = timezone.localdate()
    context = {
        "facility": facility,
        "customer": facility.customer,
        "deal": facility.deal,
        **facility_page(facility, user=request.user, today=today),
        "can_record": can_record,
        "repayment_form": (form or RepaymentForm(initial={"received_on": today})) if can_record else None,
    }
    return render(request, "risk/facility_detail.html", context)


@require_GET
def facility_detail(request: HttpRequest, facility_code) -> HttpResponse:
    return _page(request, access_facility(request.user, facility_code))


@require_POST
def facility_repayment(request: HttpRequest, facility_code) -> HttpResponse:
    """Record one repayment, held to the repayment import's rules (risk.services.repayment_enter)."""
    facility = access_facility(request.user, facility_code)  # 404 first: not theirs, not there
    if not can_import_repayments(request.user):
        raise PermissionDenied  # as the import page answers a role it refuses
    form = RepaymentForm(request.POST)
    if not form.is_valid():
        return _page(request, facility, form=form)
    data = form.cleaned_data
    try:
        repayment = repayment_enter(
            facility=facility,
            received_on=data["received_on"],
            amount=data["amount"],
            reference=data["reference"],
            by=request.user,
        )
    except RepaymentRefused as exc:
        for problem in exc.problems:
            form.add_error(None, str(problem))
        return _page(request, facility, form=form)
    except ConcurrentChange:
        form.add_error(None, _("The facility changed while recording; nothing was recorded. Please try again."))
        return _page(request, facility, form=form)
    messages.success(
        request,
        _("Recorded a repayment of %(amount)s CNY received on %(date)s.")
        % {"amount": f"{repayment.amount:,.2f}", "date": repayment.received_on.isoformat()},
    )
    return redirect(reverse("risk:facility", args=[facility.code]) + "#repayments")
