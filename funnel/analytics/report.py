"""Reading the funnel rollup for one user (the analytics page). See the package docstring."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from crm.dates import month_start
from crm.numbers import percent
from crm.scope import Scope
from funnel.analytics.rollup import _CENT, _TENTH, CYCLE_MONTHS, FUNNEL_LAYERS, KPI_CYCLE_MONTHS, TIERS
from funnel.models import OPEN_STAGES, RANK, FunnelRollup, RollupRun, Stage, StageSetting

Metric = FunnelRollup.Metric


# --- Reading ----------------------------------------------------------------------------------
def rollup_rows(scope: Scope) -> QuerySet | None:
    """The rollup rows of the one level that covers exactly the scope, or None when it covers
    no customer. An RM's customers may sit in more than one team: their rows are summed below."""
    return scope.rollup(FunnelRollup.objects.all())


def median(histogram: dict[int, int]) -> Decimal | None:
    """Median of a {value: count} histogram; with an even count, the mean of the two middle
    values."""
    total = sum(histogram.values())
    if not total:
        return None
    lower_at, upper_at = (total - 1) // 2, total // 2  # 0-based positions of the middle value(s)
    lower = upper = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen > lower_at:
            lower = value
        if seen > upper_at:
            upper = value
            break
    return (Decimal(lower + upper) / 2).quantize(_TENTH)


def mean(days: int, count: int) -> Decimal | None:
    return (Decimal(days) / count).quantize(_TENTH, rounding=ROUND_HALF_UP) if count else None


@dataclass(frozen=True)
class StageRow:
    stage: str
    label: str
    count: int
    amount: Decimal
    weighted: Decimal
    is_open: bool


@dataclass(frozen=True)
class LayerRow:
    stage: str
    label: str
    reached: int  # deals that got at least this far
    next_label: str | None
    converted: int | None  # of those, deals that got to the next layer
    rate: Decimal | None  # percent


@dataclass(frozen=True)
class DaysRow:
    stage: str
    label: str
    moves: int  # times a deal left the stage
    median: Decimal | None
    mean: Decimal | None
    expected: int | None  # StageSetting.expected_days

    @property
    def over(self) -> bool:
        return self.median is not None and self.expected is not None and self.median > self.expected


@dataclass(frozen=True)
class TierRow:
    tier: str
    funded: int
    lost: int
    win_rate: Decimal | None
    funded_amount: Decimal
    average: Decimal | None  # average amount of the funded deals


@dataclass(frozen=True)
class MonthRow:
    month: date
    deals: int
    median: Decimal | None
    mean: Decimal | None


@dataclass(frozen=True)
class FunnelReport:
    run: RollupRun | None  # None: the rollup has never run, so there are no figures yet
    stages: list[StageRow]
    layers: list[LayerRow]
    days: list[DaysRow]
    tiers: list[TierRow]
    months: list[MonthRow]
    cycle_median: Decimal | None  # the last KPI_CYCLE_MONTHS months
    cycle_deals: int

    @property
    def open_stages(self) -> list[StageRow]:
        return [row for row in self.stages if row.is_open]

    @property
    def open_count(self) -> int:
        return sum(row.count for row in self.open_stages)

    @property
    def open_amount(self) -> Decimal:
        return sum((row.amount for row in self.open_stages), Decimal("0"))

    @property
    def open_weighted(self) -> Decimal:
        return sum((row.weighted for row in self.open_stages), Decimal("0"))

    @property
    def total(self) -> TierRow:
        funded = sum(row.funded for row in self.tiers)
        lost = sum(row.lost for row in self.tiers)
        amount = sum((row.funded_amount for row in self.tiers), Decimal("0"))
        return TierRow("", funded, lost, percent(funded, funded + lost), amount, _average(amount, funded))

    @property
    def overall_conversion(self) -> Decimal | None:
        """Prospect to Funded: the share of all deals that were funded."""
        return percent(self.layers[-1].reached, self.layers[0].reached) if self.layers else None


def _average(amount: Decimal, count: int) -> Decimal | None:
    return (amount / count).quantize(_CENT, rounding=ROUND_HALF_UP) if count else None


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(_CENT, rounding=ROUND_HALF_UP)


class _Sums:
    """The user's rollup rows summed per (metric, key, bucket): one query."""

    def __init__(self, rows: QuerySet | None):
        self.rows: dict[tuple[str, str, int], dict] = {}
        if rows is not None:
            grouped = (
                rows.order_by()
                .values("metric", "key", "bucket")
                .annotate(n=Sum("count"), total=Sum("amount"), weighted_total=Sum("weighted"), days_total=Sum("days"))
            )
            self.rows = {(r["metric"], r["key"], r["bucket"]): r for r in grouped}
        # The day histograms have up to CAP_DAYS buckets per key, and the page asks for about
        # twenty of them: grouped by (metric, key) once, rather than every row read per question.
        self.buckets: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for (metric, key, _), row in self.rows.items():
            self.buckets[metric, key].append(row)

    def get(self, metric: str, key: str, field: str = "n"):
        row = self.rows.get((metric, key, 0))
        return row[field] if row else 0

    def histogram(self, metric: str, keys) -> tuple[dict[int, int], int]:
        """{days: deals} over the given keys, and the sum of their uncapped days."""
        hist: dict[int, int] = {}
        days = 0
        for key in keys:
            for row in self.buckets.get((metric, key), ()):
                hist[row["bucket"]] = hist.get(row["bucket"], 0) + row["n"]
                days += row["days_total"]
        return hist, days

    def keys(self, metric: str) -> set[str]:
        return {key for (m, key) in self.buckets if m == metric}


def funnel_report(scope: Scope, *, today: date | None = None) -> FunnelReport:
    """Every figure of the analytics page for this scope. Three queries whatever the data: the
    last run, the user's summed rollup rows, the stage settings."""
    run = RollupRun.objects.order_by("-finished_at").first()
    sums = _Sums(rollup_rows(scope) if run else None)
    settings = {s.stage: s for s in StageSetting.objects.all()}

    def label(stage: str) -> str:
        return settings[stage].label if stage in settings else str(Stage(stage).label)

    stages = [
        StageRow(
            stage=stage.value,
            label=label(stage),
            count=sums.get(Metric.STAGE, stage),
            amount=_money(sums.get(Metric.STAGE, stage, "total")),
            weighted=_money(sums.get(Metric.STAGE, stage, "weighted_total")),
            is_open=stage in OPEN_STAGES,
        )
        for stage in Stage
    ]

    def reached(stage: Stage) -> int:
        return sum(sums.get(Metric.REACHED, str(rank)) for rank in range(RANK[stage], RANK[Stage.FUNDED] + 1))

    layers = []
    for stage, following in zip(FUNNEL_LAYERS, [*FUNNEL_LAYERS[1:], None], strict=True):
        converted = reached(following) if following else None
        layers.append(
            LayerRow(
                stage=stage.value,
                label=label(stage),
                reached=reached(stage),
                next_label=label(following) if following else None,
                converted=converted,
                rate=percent(converted, reached(stage)) if following else None,
            )
        )

    days = []
    for stage in OPEN_STAGES:
        hist, total_days = sums.histogram(Metric.DAYS, {stage.value})
        count = sum(hist.values())
        expected = settings[stage].expected_days if stage in settings else None
        days.append(DaysRow(stage, label(stage), count, median(hist), mean(total_days, count), expected))

    tiers = []
    for tier in TIERS:
        funded = sums.get(Metric.OUTCOME, f"{tier}:{Stage.FUNDED}")
        lost = sums.get(Metric.OUTCOME, f"{tier}:{Stage.LOST}")
        amount = _money(sums.get(Metric.OUTCOME, f"{tier}:{Stage.FUNDED}", "total"))
        tiers.append(TierRow(tier, funded, lost, percent(funded, funded + lost), amount, _average(amount, funded)))

    today = today or timezone.localdate(timezone=timezone.get_default_timezone())  # as the rebuild's months
    months = []
    for back in range(CYCLE_MONTHS - 1, -1, -1):
        month = month_start(today, back=back)
        hist, total_days = sums.histogram(Metric.CYCLE, {f"{month:%Y-%m}"})
        count = sum(hist.values())
        months.append(MonthRow(month, count, median(hist), mean(total_days, count)))
    since = f"{month_start(today, back=KPI_CYCLE_MONTHS - 1):%Y-%m}"
    recent, _ = sums.histogram(Metric.CYCLE, {key for key in sums.keys(Metric.CYCLE) if key >= since})

    return FunnelReport(
        run=run,
        stages=stages,
        layers=layers,
        days=days,
        tiers=tiers,
        months=months,
        cycle_median=median(recent),
        cycle_deals=sum(recent.values()),
    )


def is_stale(run: RollupRun, *, now: datetime | None = None) -> bool:
    """Older than four refresh intervals: the beat job is probably not running."""
    return (now or timezone.now()) - run.finished_at > timedelta(hours=1)
