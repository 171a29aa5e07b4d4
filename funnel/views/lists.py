"""The deal list and its CSV/XLSX export.

Built for two million deals on PostgreSQL: pages are cut by keyset on (created_at, id), newest
first, which walks the ``deal_newest`` index; there is no OFFSET (slow deep in the list) and no
full COUNT (slow on every page). The cursor in the URL is the public UUID of a deal shown, never
an integer id, and it is looked up inside the user's visible, filtered deals, so a cursor
cannot reveal anything about a deal the user may not see.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm import keyset
from funnel import exchange
from funnel.access import can_work_deals, deals_for
from funnel.filters import DealFilter
from funnel.models import Deal, DealQuerySet, StageSetting

PAGE_SIZE = 50
ORDER = ("-created_at", "-id")


@dataclass(frozen=True)
class DealRow:
    deal: Deal
    stage_label: str
    days_in_stage: int
    overdue: bool
    setting: StageSetting | None = None  # its overdue rule, for the badge's tooltip


def _filtered(request: HttpRequest) -> tuple[DealFilter, DealQuerySet]:
    """The user's visible deals narrowed by the filter form: the one query behind both the
    list and the export, so the two can never disagree on scope."""
    filterset = DealFilter(request.GET or None, queryset=deals_for(request.user), request=request)
    return filterset, filterset.qs


def _rows(deals: list[Deal], stage_settings: dict[str, StageSetting]) -> list[DealRow]:
    now = timezone.now()
    rows = []
    for deal in deals:
        setting = stage_settings.get(deal.stage)
        days = deal.days_in_stage(now)
        rows.append(
            DealRow(
                deal=deal,
                stage_label=setting.label if setting else deal.get_stage_display(),
                days_in_stage=days,
                overdue=setting is not None and setting.is_overdue(days),
                setting=setting,
            )
        )
    return rows


@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    filterset, deals = _filtered(request)
    deals = deals.select_related("customer", "owner")
    # Newest created first: the deal_newest indexes.
    listing = keyset.page_context(request, deals, field="created_at", size=PAGE_SIZE)
    # The six stage settings once per request, not once per row.
    stage_settings = StageSetting.objects.by_stage()
    context = {
        **listing,
        "filter": filterset,
        "rows": _rows(listing["page"].rows, stage_settings),
        "can_create": can_work_deals(request.user),
    }
    template = "funnel/deal_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


@require_GET
def deal_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Every deal of the list as the user filtered it (same query parameters), not one page."""
    _filterset, deals = _filtered(request)
    deals = deals.order_by(*ORDER)
    if fmt == "xlsx" and exchange.too_many_for_xlsx(deals):
        messages.error(
            request,
            _("More than %(limit)s deals match: too many for one Excel sheet. Narrow the filters or export CSV.")
            % {"limit": f"{exchange.XLSX_MAX_ROWS:,}"},
        )
        query = keyset.query_without_cursor(request)
        return redirect(reverse("funnel:list") + (f"?{query}" if query else ""))
    return exchange.download(deals, fmt)
