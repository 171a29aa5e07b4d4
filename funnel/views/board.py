"""The pipeline board: a column per stage, the newest arrivals on top."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from funnel.access import can_work_deals, deals_for
from funnel.filters import DealFilter
from funnel.models import (
    CLOSED_STAGES,
    OPEN_STAGES,
    ClosedDayTotal,
    Stage,
    StageSetting,
    StageTotal,
    StageTotalQuerySet,
)

CARDS_PER_COLUMN = 50
# Funded and Lost only show what closed recently: the board is for the live pipeline, the deal
# list and the analytics hold the history.
CLOSED_WINDOW_DAYS = 90
# What a card shows (funnel_tags.deal_card); only these columns are read.
CARD_FIELDS = ("code", "title", "stage", "amount", "stage_entered_at", "customer__name", "customer__tier")


@dataclass
class Column:
    stage: str
    setting: StageSetting | None
    cards: list
    has_more: bool
    count: int
    amount: Decimal
    weighted: Decimal

    @property
    def label(self) -> str:
        return self.setting.label if self.setting else str(Stage(self.stage).label)


def board_columns(
    deals,
    settings: dict[str, StageSetting],
    now: datetime.datetime,
    *,
    open_totals: StageTotalQuerySet | None = None,
    closed_totals: StageTotalQuerySet | None = None,
) -> list[Column]:
    """Six card queries (one per column, each an index range scan with LIMIT) and two
    aggregates for the totals: the same eight queries for 5 deals or 5 million.

    ``open_totals`` and ``closed_totals``, the kept totals of exactly ``deals`` (the board without
    filters), give the columns' totals from the few rows the triggers keep instead of summing
    every open deal (half a million for someone who sees the whole firm) and every deal closed
    in the window (137,000), the closed ones by day. With a filter the deals are summed."""
    since = window_start(now)
    # A closed deal entered its closed stage when it closed: filtering on stage_entered_at keeps
    # every column an index range (deal_board*), where closed_at would need the table.
    on_board = deals.filter(~Q(stage__in=CLOSED_STAGES) | Q(stage_entered_at__gte=since))
    # Σ(amount × probability) / 100: one division per column, not one per deal.
    weighted = ExpressionWrapper(
        Sum(F("amount") * F("probability")) / Decimal(100), output_field=DecimalField(max_digits=24, decimal_places=2)
    )
    # Two aggregates, each an index range (open stages; closed ones since the window began),
    # where one with "open OR recently closed" would read every deal the user may see.
    if open_totals is None:
        open_rows = (
            deals.filter(stage__in=OPEN_STAGES)
            .order_by()
            .values("stage")
            .annotate(n=Count("id"), amount_sum=Sum("amount"), weighted_sum=weighted)
        )
    else:
        open_rows = (
            open_totals.filter(stage__in=OPEN_STAGES)
            .order_by()
            .values("stage")
            .annotate(
                n=Sum("count"),
                amount_sum=Sum("amount"),
                weighted_sum=ExpressionWrapper(Sum("weighted") / Decimal(100), output_field=weighted.output_field),
            )
        )
    if closed_totals is None:
        closed_rows = (
            deals.filter(stage__in=CLOSED_STAGES, stage_entered_at__gte=since)
            .order_by()
            .values("stage")
            .annotate(n=Count("id"), amount_sum=Sum("amount"), weighted_sum=weighted)
        )
    else:
        closed_rows = (
            closed_totals.filter(stage__in=CLOSED_STAGES, day__gte=since.date())
            .order_by()
            .values("stage")
            .annotate(
                n=Sum("count"),
                amount_sum=Sum("amount"),
                weighted_sum=ExpressionWrapper(Sum("weighted") / Decimal(100), output_field=weighted.output_field),
            )
        )
    totals = {row["stage"]: row for rows in (open_rows, closed_rows) for row in rows}
    columns = []
    for stage in Stage.values:
        # Plain rows, not model instances: up to 300 per page, and a card needs no behaviour.
        cards = list(
            on_board.filter(stage=stage)
            .order_by("-stage_entered_at", "-id")
            .values(*CARD_FIELDS)[: CARDS_PER_COLUMN + 1]
        )
        setting = settings.get(stage)
        for card in cards:
            card["days"] = (now - card["stage_entered_at"]).days
            card["overdue"] = setting is not None and setting.is_overdue(card["days"])
            card["setting"] = setting
        total = totals.get(stage, {})
        columns.append(
            Column(
                stage=stage,
                setting=settings.get(stage),
                cards=cards[:CARDS_PER_COLUMN],
                has_more=len(cards) > CARDS_PER_COLUMN,
                count=total.get("n", 0),
                amount=total.get("amount_sum") or Decimal(0),
                weighted=(total.get("weighted_sum") or Decimal(0)).quantize(Decimal("0.01")),
            )
        )
    return columns


def window_start(now: datetime.datetime) -> datetime.datetime:
    """Where the closed columns' window begins: the start of the UTC day CLOSED_WINDOW_DAYS ago,
    so that the cards and the kept per-day totals (ClosedDayTotal, by UTC day) cover the same
    deals."""
    day = (now - datetime.timedelta(days=CLOSED_WINDOW_DAYS)).astimezone(datetime.UTC).date()
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def is_filtered(filterset: DealFilter) -> bool:
    """Whether a filter narrows the deals below the user's scope (a valid filterset)."""
    if not filterset.is_bound:
        return False
    return any(value not in (None, "") for value in filterset.form.cleaned_data.values())


@require_GET
def board(request: HttpRequest) -> HttpResponse:
    filterset = DealFilter(request.GET or None, queryset=deals_for(request.user), request=request, board=True)
    settings = StageSetting.objects.by_stage()
    now = timezone.now()
    query = request.GET.copy()
    query.pop("fragment", None)
    context = {
        "filter": filterset,
        "settings": settings,
        "now": now,
        "query": query.urlencode(),
        "can_work": can_work_deals(request.user),
        "closed_window_days": CLOSED_WINDOW_DAYS,
    }
    if filterset.is_bound and not filterset.is_valid():
        context["columns"] = []
        return render(request, "funnel/board.html", context)
    # Without a filter the board shows all the user may see, which the stage totals hold.
    if is_filtered(filterset):
        context["columns"] = board_columns(filterset.qs, settings, now)
    else:
        context["columns"] = board_columns(
            filterset.qs,
            settings,
            now,
            open_totals=StageTotal.objects.visible_to(request.user),
            closed_totals=ClosedDayTotal.objects.visible_to(request.user),
        )
    template = "funnel/board.html"
    if request.htmx and not request.htmx.boosted:
        template += "#columns"
    return render(request, template, context)
