"""Writing the funnel rollup (the beat job). See the package docstring."""

import time
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import CharField, Count, DecimalField, F, Func, IntegerField, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat, ExtractMonth, ExtractYear, Greatest, Least, LPad
from django.utils import timezone

from crm.dates import month_start
from crm.sql import rebuild_transaction
from customers.choices import Tier
from funnel.models import Deal, FunnelRollup, RollupRun, Stage, StageMove

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
    """Whole days from ``start`` to ``end`` (not before ``start``), floored like
    ``timedelta.days`` (what ``StageMove.days_in_from_stage`` holds), on PostgreSQL and SQLite."""

    output_field = IntegerField()
    arg_joiner = " - "

    def __init__(self, start, end):
        super().__init__(end, start)

    def as_postgresql(self, compiler, connection, **extra):
        # timestamptz - timestamptz is an interval of whole days plus a time under 24 hours,
        # so its day field is the floor for any span that is not negative.
        template = "DATE_PART('day', %(expressions)s)::integer"
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


def _owner_rows(queryset: QuerySet, *, deal: str, metric: str, key, bucket, amount, weighted, days) -> QuerySet:
    """``queryset`` grouped by the customer's owner and team and by key and bucket, selecting
    exactly ``COLUMNS`` in order (Django 5.2 keeps the order given to ``values_list``).

    ``deal`` is the path to the deal ("" for deals). The owner and team are the deal's copy of
    its customer's (kept equal by the trigger of migration 0004): the columns
    ``Deal.objects.visible_to`` reads, and no join to two million customers."""
    return (
        queryset.order_by()
        .values(
            r_owner=F(f"{deal}owner_id"),
            r_team=F(f"{deal}team_id"),
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
            deal="",
            metric=Metric.STAGE,
            key=F("stage"),
            bucket=Value(0),
            amount=Sum("amount"),
            weighted=Sum(F("amount") * F("probability")) * Value(_CENT),
            days=Value(0),
        ),
        _owner_rows(
            Deal.objects.all(),
            deal="",
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
            deal="",
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
            deal="deal__",
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
            deal="",
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


def rollup_rebuild() -> RollupRun:
    """Recompute every rollup row in one transaction; readers see the old rows until it commits
    (DELETE, not TRUNCATE, which would lock the page out for the whole rebuild). Idempotent:
    the result depends only on the deals. Run under the job lock (funnel.tasks)."""
    started = time.monotonic()
    # The months kept: this Shanghai month (settings.TIME_ZONE) and the eleven before it.
    local = timezone.get_default_timezone()
    first = month_start(timezone.localdate(timezone=local), back=CYCLE_MONTHS - 1)
    window_start = timezone.make_aware(datetime.combine(first, datetime.min.time()), local)
    # One snapshot for all statements, so a deal moved mid-rebuild is counted consistently (in
    # its old stage everywhere or its new one everywhere); at 2M deals the groupings run to
    # millions of rows, hence the memory and no JIT (crm.sql.rebuild_transaction).
    with rebuild_transaction():
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
