"""The deal list and its CSV/XLSX export.

Built for two million deals on PostgreSQL: pages are cut by keyset on (created_at, id), newest
first, which walks the ``deal_newest`` index; there is no OFFSET (slow deep in the list) and no
full COUNT (slow on every page). The cursor in the URL is the public UUID of a deal shown, never
an integer id, and it is looked up inside the user's visible, filtered deals, so a cursor
cannot reveal anything about a deal the user may not see.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.access import can_work_deal, deals_for
from funnel import exchange
from funnel.filters import DealFilter
from funnel.models import Deal, DealQuerySet, StageSetting

PAGE_SIZE = 50
# The list says "More than 1,000 deals" past this: counting every match costs a scan of all of them.
COUNT_CAP = 1000
CURSOR_PARAMS = ("after", "before")
ORDER = ("-created_at", "-id")


@dataclass(frozen=True)
class DealRow:
    deal: Deal
    stage_label: str
    days_in_stage: int
    overdue: bool


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Deal]
    has_newer: bool
    has_older: bool

    @property
    def is_first(self) -> bool:
        return not self.has_newer

    @property
    def newest(self) -> Deal | None:
        return self.rows[0] if self.rows else None

    @property
    def oldest(self) -> Deal | None:
        return self.rows[-1] if self.rows else None


def _filtered(request: HttpRequest) -> tuple[DealFilter, DealQuerySet]:
    """The user's visible deals narrowed by the filter form: the one query behind both the
    list and the export, so the two can never disagree on scope."""
    filterset = DealFilter(request.GET or None, queryset=deals_for(request.user), request=request)
    return filterset, filterset.qs


def _cursor(deals: DealQuerySet, code: str | None) -> tuple[datetime, int] | None:
    """(created_at, id) of the deal with this code among ``deals``; None for anything else
    (absent, malformed, not visible, filtered out), which the caller treats as page one."""
    if not code:
        return None
    try:
        value = uuid.UUID(code)
    except ValueError:
        return None
    found = list(deals.filter(code=value).order_by().values_list("created_at", "id")[:1])
    return found[0] if found else None


def _older_than(created_at: datetime, pk: int) -> Q:
    """(created_at, id) < (created_at, pk). The redundant ``created_at <= …`` is what lets
    PostgreSQL start the ``deal_newest`` index scan at the cursor: it does not turn the OR alone
    into an index range, and would otherwise filter its way down from the newest deal."""
    return Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk))


def _newer_than(created_at: datetime, pk: int) -> Q:
    return Q(created_at__gte=created_at) & (Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=pk))


def keyset_page(deals: DealQuerySet, *, after: str | None = None, before: str | None = None) -> KeysetPage:
    """One page of ``deals``, newest first: the page older than the deal ``after``, or the
    page newer than the deal ``before``. Ties in created_at are broken by id, so every deal
    is on exactly one page however many share a timestamp."""
    if key := _cursor(deals, after):
        rows = list(deals.filter(_older_than(*key)).order_by(*ORDER)[: PAGE_SIZE + 1])
        # The cursor deal itself is newer than this page and still matches, so "Newer" exists.
        return KeysetPage(rows=rows[:PAGE_SIZE], has_newer=True, has_older=len(rows) > PAGE_SIZE)
    if key := _cursor(deals, before):
        # Walk the index the other way from the cursor, then put the page back in list order.
        rows = list(deals.filter(_newer_than(*key)).order_by("created_at", "id")[: PAGE_SIZE + 1])
        if len(rows) >= PAGE_SIZE:
            page = rows[:PAGE_SIZE]
            page.reverse()
            return KeysetPage(rows=page, has_newer=len(rows) > PAGE_SIZE, has_older=True)
        # Fewer than a page is newer (deals were deleted or filtered away since the link was
        # made): that is the first page, shown full rather than short.
    rows = list(deals.order_by(*ORDER)[: PAGE_SIZE + 1])
    return KeysetPage(rows=rows[:PAGE_SIZE], has_newer=False, has_older=len(rows) > PAGE_SIZE)


def _rows(deals: list[Deal], stage_settings: dict[str, StageSetting]) -> list[DealRow]:
    now = timezone.now()
    rows = []
    for deal in deals:
        setting = stage_settings.get(deal.stage)
        days = deal.days_in_stage(now)
        expected = setting.expected_days if setting else None
        rows.append(
            DealRow(
                deal=deal,
                stage_label=setting.label if setting else deal.get_stage_display(),
                days_in_stage=days,
                overdue=deal.is_open and expected is not None and days > expected,
            )
        )
    return rows


def _query_without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    for name in CURSOR_PARAMS:
        query.pop(name, None)
    return query.urlencode()


@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    filterset, deals = _filtered(request)
    deals = deals.select_related("customer", "owner")
    page = keyset_page(deals, after=request.GET.get("after"), before=request.GET.get("before"))
    # The six stage settings once per request, not once per row.
    stage_settings = StageSetting.objects.by_stage()
    # Capped: "more than 1,000" is honest and costs at most 1,001 index entries, where a full COUNT
    # over two million deals would run on every page view.
    count = deals.order_by()[: COUNT_CAP + 1].count()
    context = {
        "filter": filterset,
        "page": page,
        "rows": _rows(page.rows, stage_settings),
        "count": min(count, COUNT_CAP),
        "count_capped": count > COUNT_CAP,
        "query": _query_without_cursor(request),
        "can_create": can_work_deal(request.user),
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
        query = _query_without_cursor(request)
        return redirect(reverse("funnel:list") + (f"?{query}" if query else ""))
    return exchange.download(deals, fmt)
