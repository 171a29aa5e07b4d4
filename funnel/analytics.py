"""Funnel analytics: the method's screening efficiency (客户筛选效率).

Two halves:

- ``rollup_rebuild()`` (the beat job, every 15 minutes) recomputes ``FunnelRollup`` in one
  transaction: delete every row, then one ``INSERT … SELECT … GROUP BY`` per metric at the
  owner level and two more that add the team and firm-wide totals. The SELECTs are ORM
  querysets compiled to SQL, so the vendor details (time zones, LEAST, string functions) are
  Django's and the same code runs on PostgreSQL and SQLite; no deal row travels to Python.
- ``funnel_report(user)`` (the page) sums the rollup rows of one level for the user's scope in
  a single query and derives every figure from those sums in Python.

Medians are exact at day granularity: days are whole days (floor, like ``timedelta.days``) and
kept as per-day histograms capped at ``CAP_DAYS``. With an even number of deals the median is
the mean of the two middle values (so it can end in .5).
"""

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import CharField, Count, DecimalField, F, Func, IntegerField, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat, ExtractMonth, ExtractYear, Greatest, Least, LPad
from django.utils import timezone

from crm.roles import is_relationship_manager, is_team_manager, sees_all_customers
from customers.choices import Tier
from funnel.models import OPEN_STAGES, RANK, Deal, FunnelRollup, RollupRun, Stage, StageMove, StageSetting

Metric = FunnelRollup.Metric

CAP_DAYS = 730  # histogram buckets: 0 … 729 days, and 730 for "730 days or more"
CYCLE_MONTHS = 12  # months of screening cycle time kept and shown
KPI_CYCLE_MONTHS = 3  # the KPI's median cycle time covers the current month and the two before
FUNNEL_LAYERS = [Stage.PROSPECT, Stage.PRELIMINARY, Stage.DUE_DILIGENCE, Stage.APPROVED, Stage.FUNDED]
TIERS = [Tier.AA, Tier.A, Tier.B, Tier.UNRATED]
COLUMNS = ("owner_id", "team_id", "metric", "key", "bucket", "count", "amount", "weighted", "days")

_ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=22, decimal_places=2))
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


# --- Rebuild -----------------------------------------------------------------------------------
class WholeDays(Func):
    """Whole days from ``start`` to ``end``, floored like ``timedelta.days`` (what
    ``StageMove.days_in_from_stage`` holds), on PostgreSQL and SQLite."""

    output_field = IntegerField()
    arg_joiner = " - "

    def __init__(self, start, end):
        super().__init__(end, start)

    def as_postgresql(self, compiler, connection, **extra):
        template = "FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400)::integer"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # julianday() is a float of days; rounding to the millisecond first keeps exactly ten
        # days from truncating to 9.99999… → 9.
        template = "CAST(ROUND((%(expressions)s) * 86400000) / 86400000 AS INTEGER)"
        end, start = self.source_expressions
        copy = self.copy()
        copy.set_source_expressions([Func(end, function="julianday"), Func(start, function="julianday")])
        return copy.as_sql(compiler, connection, template=template, **extra)

    def as_sql(self, compiler, connection, **extra):
        if "template" not in extra:
            raise NotImplementedError(f"WholeDays does not support {connection.vendor}")
        return super().as_sql(compiler, connection, **extra)


_ALIASES = ("r_owner", "r_team", "r_metric", "r_key", "r_bucket", "r_count", "r_amount", "r_weighted", "r_days")
# A typed NULL: PostgreSQL reads a bare NULL in a SELECT list as text, which an integer column
# refuses.
_NULL = Cast(Value(None), IntegerField())


def _owner_rows(queryset: QuerySet, *, customer: str, metric: str, key, bucket, amount, weighted, days) -> QuerySet:
    """``queryset`` grouped by the customer's owner and team (``customer`` is the path to the
    customer) and by key and bucket, selecting exactly ``COLUMNS`` in order (Django 5.2 keeps
    the order given to ``values_list``)."""
    return (
        queryset.order_by()
        .values(
            r_owner=F(f"{customer}__owner_id"),
            r_team=F(f"{customer}__team_id"),
            r_metric=Value(metric),
            r_key=key,
            r_bucket=bucket,
        )
        .annotate(r_count=Count("pk"), r_amount=amount, r_weighted=weighted, r_days=days)
        .values_list(*_ALIASES)
        .order_by("r_owner")  # an owner's rows side by side on disk: the page reads few blocks
    )


def _owner_level(window_start: datetime) -> list[QuerySet]:
    cycle_days = Greatest(WholeDays("created_at", "screened_at"), Value(0))
    # "YYYY-MM" built from numbers: casting a timestamp to text would follow the server's DateStyle.
    local = timezone.get_default_timezone()
    month = Concat(
        Cast(ExtractYear("screened_at", tzinfo=local), CharField()),
        Value("-"),
        LPad(Cast(ExtractMonth("screened_at", tzinfo=local), CharField()), 2, Value("0")),
        output_field=CharField(),
    )
    return [
        # Deals now in each stage; weighted = Σ amount × probability / 100, rounded once on the sum.
        _owner_rows(
            Deal.objects.all(),
            customer="customer",
            metric=Metric.STAGE,
            key=F("stage"),
            bucket=Value(0),
            amount=Sum("amount"),
            weighted=Sum(F("amount") * F("probability")) * Value(_CENT),
            days=Value(0),
        ),
        _owner_rows(
            Deal.objects.all(),
            customer="customer",
            metric=Metric.REACHED,
            key=Cast("max_rank", CharField()),
            bucket=Value(0),
            amount=Sum("amount"),
            weighted=_ZERO,
            days=Value(0),
        ),
        # The customer's current tier: win rate answers "how do deals with AA customers end?".
        _owner_rows(
            Deal.objects.filter(stage__in=[Stage.FUNDED, Stage.LOST]),
            customer="customer",
            metric=Metric.OUTCOME,
            key=Concat("customer__tier", Value(":"), "stage", output_field=CharField()),
            bucket=Value(0),
            amount=Sum("amount"),
            weighted=_ZERO,
            days=Value(0),
        ),
        # Backward moves count too: the days were spent in the stage all the same.
        _owner_rows(
            StageMove.objects.filter(days_in_from_stage__isnull=False).exclude(from_stage=""),
            customer="deal__customer",
            metric=Metric.DAYS,
            key=F("from_stage"),
            bucket=Least("days_in_from_stage", Value(CAP_DAYS)),
            amount=_ZERO,
            weighted=_ZERO,
            days=Sum("days_in_from_stage"),
        ),
        # The month is the Shanghai calendar month (settings.TIME_ZONE) of the screening decision.
        _owner_rows(
            Deal.objects.filter(screened_at__gte=window_start),
            customer="customer",
            metric=Metric.CYCLE,
            key=month,
            bucket=Least(cycle_days, Value(CAP_DAYS)),
            amount=Sum("amount"),
            weighted=_ZERO,
            days=Sum(cycle_days),
        ),
    ]


def _totals(*, per_team: bool) -> QuerySet:
    """Team totals summed from the owner rows, or firm-wide totals summed from the team totals.
    Every customer has a team (the column is NOT NULL), so the team totals miss nobody."""
    if per_team:
        rows, team = FunnelRollup.objects.filter(owner_id__isnull=False), F("team_id")
    else:
        rows, team = FunnelRollup.objects.filter(owner_id__isnull=True, team_id__isnull=False), _NULL
    return (
        rows.order_by()
        .values(r_owner=_NULL, r_team=team, r_metric=F("metric"), r_key=F("key"), r_bucket=F("bucket"))
        .annotate(r_count=Sum("count"), r_amount=Sum("amount"), r_weighted=Sum("weighted"), r_days=Sum("days"))
        .values_list(*_ALIASES)
        .order_by("r_team")
    )


def _insert(queryset: QuerySet) -> None:
    select, params = queryset.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(FunnelRollup._meta.get_field(name).column) for name in COLUMNS)
    sql = f"INSERT INTO {quote(FunnelRollup._meta.db_table)} ({columns}) {select}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _month_start(day: date, *, back: int) -> date:
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def rollup_rebuild() -> RollupRun:
    """Recompute every rollup row in one transaction; readers see the old rows until it commits
    (DELETE, not TRUNCATE, which would lock the page out for the whole rebuild). Idempotent:
    the result depends only on the deals. Run under the job lock (funnel.tasks)."""
    started = time.monotonic()
    # The months kept: this Shanghai month (settings.TIME_ZONE) and the eleven before it.
    local = timezone.get_default_timezone()
    first = _month_start(timezone.localdate(timezone=local), back=CYCLE_MONTHS - 1)
    window_start = timezone.make_aware(datetime.combine(first, datetime.min.time()), local)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if outermost:
                    # One snapshot for all statements, so a deal moved mid-rebuild is counted
                    # consistently (in its old stage everywhere or its new one everywhere).
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # The grouped results run to hundreds of thousands of rows at 2M deals; with the
                # default 4 MB they spill to disk. For this transaction only.
                cursor.execute("SET LOCAL work_mem = '64MB'")
        FunnelRollup.objects.all().delete()
        for queryset in _owner_level(window_start):
            _insert(queryset)
        _insert(_totals(per_team=True))
        _insert(_totals(per_team=False))
        deals = FunnelRollup.objects.filter(owner_id__isnull=True, team_id__isnull=True, metric=Metric.STAGE).aggregate(
            n=Sum("count")
        )["n"]
        # One row: the latest run is all the page needs.
        RollupRun.objects.all().delete()
        return RollupRun.objects.create(
            finished_at=timezone.now(), deals=deals or 0, seconds=round(time.monotonic() - started, 3)
        )


# --- Reading ----------------------------------------------------------------------------------
def rollup_rows(user) -> QuerySet | None:
    """The rollup rows of the one level that covers exactly the customers the user may see
    (``Customer.objects.visible_to``), or None when they may see none."""
    if sees_all_customers(user):
        return FunnelRollup.objects.filter(owner_id__isnull=True, team_id__isnull=True)
    if is_team_manager(user):
        return FunnelRollup.objects.filter(owner_id__isnull=True, team_id=user.team_id) if user.team_id else None
    if is_relationship_manager(user):
        # An RM's customers may sit in more than one team: their rows are summed below.
        return FunnelRollup.objects.filter(owner_id=user.pk)
    return None


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_TENTH, rounding=ROUND_HALF_UP)


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

    def get(self, metric: str, key: str, field: str = "n"):
        row = self.rows.get((metric, key, 0))
        return row[field] if row else 0

    def histogram(self, metric: str, keys) -> tuple[dict[int, int], int]:
        """{days: deals} over the given keys, and the sum of their uncapped days."""
        hist: dict[int, int] = {}
        days = 0
        for (m, key, bucket), row in self.rows.items():
            if m == metric and key in keys:
                hist[bucket] = hist.get(bucket, 0) + row["n"]
                days += row["days_total"]
        return hist, days

    def keys(self, metric: str) -> set[str]:
        return {key for (m, key, _) in self.rows if m == metric}


def funnel_report(user, *, today: date | None = None) -> FunnelReport:
    """Every figure of the analytics page for this user. Three queries whatever the data: the
    last run, the user's summed rollup rows, the stage settings."""
    run = RollupRun.objects.order_by("-finished_at").first()
    sums = _Sums(rollup_rows(user) if run else None)
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
        month = _month_start(today, back=back)
        hist, total_days = sums.histogram(Metric.CYCLE, {f"{month:%Y-%m}"})
        count = sum(hist.values())
        months.append(MonthRow(month, count, median(hist), mean(total_days, count)))
    since = f"{_month_start(today, back=KPI_CYCLE_MONTHS - 1):%Y-%m}"
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
