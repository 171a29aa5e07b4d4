"""Writing ``RiskMonth`` (the beat job risk.tasks.risk_rollup_rebuild). See the package docstring."""

import time
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DateField, DecimalField, F, IntegerField, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.utils import timezone

from crm.dates import month_start
from crm.sql import rebuild_transaction
from customers.choices import Tier
from funnel.models import RANK, Deal, Stage
from risk.models import Alert, Facility, Repayment, RepaymentInstallment, RiskMonth
from risk.selectors import HALF_CENT, with_overdue

MONTHS_KEPT = 24  # flows are recomputed for this month and the 23 before it

COLUMNS = (
    "month",
    "owner_id",
    "team_id",
    "due",
    "repaid",
    "exposure",
    "exposure_b",
    "exposure_overdue",
    "exposure_aa",
    "exposure_a",
    "exposure_unrated",
    "facilities_aa",
    "facilities_a",
    "facilities_b",
    "facilities_unrated",
    "alerts_new",
    "screened",
    "screened_funded",
)
_ALIASES = tuple(f"r_{name}" for name in COLUMNS)
_MONEY = DecimalField(max_digits=22, decimal_places=2)
_ZERO = Value(Decimal("0"), output_field=_MONEY)
# Typed NULLs: PostgreSQL reads a bare NULL in a SELECT list as text, which the UNION with the
# numeric columns of the other parts (and the integer columns of the table) refuses.
_NO_MONEY = Cast(Value(None), _MONEY)
_NO_ID = Cast(Value(None), IntegerField())
_NONE = Value(0)
# The snapshot by tier: (tier, its outstanding column, its facility-count column). Tier B's
# outstanding is exposure_b, which the portfolio risk already reads.
TIER_COLUMNS = (
    (Tier.AA, "exposure_aa", "facilities_aa"),
    (Tier.A, "exposure_a", "facilities_a"),
    (Tier.B, "exposure_b", "facilities_b"),
    (Tier.UNRATED, "exposure_unrated", "facilities_unrated"),
)
# The stocks: observed by a rebuild for its month, NULL elsewhere.
_SNAPSHOT = ("exposure", "exposure_overdue", *(name for _tier, *names in TIER_COLUMNS for name in names))
_MONEY_COLUMNS = frozenset(
    {"due", "repaid", "exposure", "exposure_overdue", *(money for _t, money, _n in TIER_COLUMNS)}
)


def _month_of(field: str, *, local=None) -> Cast:
    """First day of the month of a date (or of a datetime in ``local`` time), as a date."""
    return Cast(TruncMonth(field, tzinfo=local) if local else TruncMonth(field, output_field=DateField()), DateField())


def _part(queryset: QuerySet, *, month, owner: str, team: str, **figures) -> QuerySet:
    """One part of the owner level: ``queryset`` grouped by month and the customer's owner and
    team, selecting every column of ``COLUMNS`` in order (zero or NULL where the part has no
    figure). Django 5.2 keeps the order given to ``values_list``."""
    defaults = {
        "r_due": _ZERO,
        "r_repaid": _ZERO,
        **{f"r_{name}": _NO_MONEY if name in _MONEY_COLUMNS else _NO_ID for name in _SNAPSHOT},
        "r_alerts_new": _NONE,
        "r_screened": _NONE,
        "r_screened_funded": _NONE,
    }
    return (
        queryset.order_by()
        .values(r_month=month, r_owner_id=F(owner), r_team_id=F(team))
        .annotate(**{**defaults, **figures})
        .values_list(*_ALIASES)
    )


def _owner_parts(*, today: date, first: date, old_max: int, local) -> list[QuerySet]:
    window_start = timezone.make_aware(datetime.combine(first, datetime.min.time()), local)
    this_month = month_start(today, back=0)
    risky = Q(customer__tier=Tier.B)
    return [
        # Due: principal + interest of the installments falling due in the month; in the
        # current month only those already due, so the month's recovery rate is not held down by
        # installments nobody could have paid yet.
        _part(
            RepaymentInstallment.objects.filter(due_date__gte=first, due_date__lte=today),
            month=_month_of("due_date"),
            owner="facility__owner_id",
            team="facility__team_id",
            r_due=Sum(F("principal") + F("interest"), output_field=_MONEY),
        ),
        _part(
            Repayment.objects.filter(received_on__gte=first, received_on__lte=today),
            month=_month_of("received_on"),
            owner="facility__owner_id",
            team="facility__team_id",
            r_repaid=Sum("amount", output_field=_MONEY),
        ),
        # Alerts and screening decisions go to the Shanghai calendar month (settings.TIME_ZONE).
        _part(
            Alert.objects.filter(opened_at__gte=window_start),
            month=_month_of("opened_at", local=local),
            owner="owner_id",
            team="team_id",
            r_alerts_new=Count("pk"),
        ),
        # Screened: deals whose screening ended (first reached Approved or Lost) in the month;
        # funded: those of them that got to Approved or beyond. The deal's owner and team are
        # its customer's (copied, kept equal by funnel migration 0004's trigger): no join. The
        # same holds for alerts (risk/0006) and facilities (risk/0017), so no part joins the
        # customer for its owner and team.
        _part(
            Deal.objects.filter(screened_at__gte=window_start),
            month=_month_of("screened_at", local=local),
            owner="owner_id",
            team="team_id",
            r_screened=Count("pk"),
            r_screened_funded=Count("pk", filter=Q(max_rank__gte=RANK[Stage.APPROVED])),
        ),
        # Exposure now, for the current month: outstanding of every facility; of tier-B
        # customers; and of facilities with anything overdue whose customer is NOT tier B, so
        # exposure_b + exposure_overdue counts each risky facility once (portfolio risk). In the
        # same pass, by the customer's tier now: outstanding, and the facilities that have any
        # (the dashboard's "Exposure by tier"; a tier change shows at the next rebuild).
        _part(
            with_overdue(Facility.objects.all(), today=today),
            month=Value(this_month, output_field=DateField()),
            owner="owner_id",
            team="team_id",
            r_exposure=Coalesce(Sum("outstanding"), _ZERO),
            r_exposure_b=Coalesce(Sum("outstanding", filter=risky), _ZERO),
            r_exposure_overdue=Coalesce(
                Sum("outstanding", filter=~risky & Q(amount_overdue__gt=HALF_CENT)), _ZERO, output_field=_MONEY
            ),
            **{
                f"r_{money}": Coalesce(Sum("outstanding", filter=Q(customer__tier=tier)), _ZERO)
                for tier, money, _count in TIER_COLUMNS
                if money != "exposure_b"
            },
            **{
                f"r_{count}": Count("pk", filter=Q(customer__tier=tier, outstanding__gt=0))
                for tier, _money, count in TIER_COLUMNS
            },
        ),
        # Stocks cannot be observed after the fact: a past month keeps the last snapshot taken
        # in it, read from the rows this rebuild replaces.
        _part(
            RiskMonth.objects.filter(
                pk__lte=old_max, owner_id__isnull=False, month__gte=first, month__lt=this_month
            ).exclude(exposure=None),
            month=F("month"),
            owner="owner_id",
            team="team_id",
            # Snapshots taken before the tier columns existed keep NULL there (SUM of NULLs).
            **{f"r_{name}": Sum(name) for name in _SNAPSHOT},
        ),
    ]


def _insert(select: str, params: tuple) -> int:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(RiskMonth._meta.get_field(name).column) for name in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(RiskMonth._meta.db_table)} ({columns}) {select}", params)
        return cursor.rowcount


def _sum_columns(alias: str = "") -> str:
    """The SELECT list that sums the figures: money rounded to cents (a no-op on PostgreSQL;
    SQLite adds binary floats), SUM of nothing but NULL staying NULL (no snapshot)."""
    quote = connection.ops.quote_name
    parts = []
    for name in COLUMNS[3:]:
        column = quote(f"{alias}{name}")
        parts.append(f"ROUND(SUM({column}), 2)" if name in _MONEY_COLUMNS else f"SUM({column})")
    return ", ".join(parts)


def _insert_owner_level(parts: list[QuerySet]) -> int:
    """One INSERT … SELECT: the parts glued with UNION ALL and summed per month, owner and team
    (an owner with customers in two teams has a row per team)."""
    sqls, params = [], []
    for queryset in parts:
        sql, part_params = queryset.query.sql_with_params()
        sqls.append(sql)
        params.extend(part_params)
    quote = connection.ops.quote_name
    keys = ", ".join(quote(alias) for alias in _ALIASES[:3])
    # Quoted names and Django-compiled SQL; every value is a bound parameter.
    union = " UNION ALL ".join(sqls)
    select = f"SELECT {keys}, {_sum_columns('r_')} FROM ({union}) parts GROUP BY {keys}"  # noqa: S608
    return _insert(select, tuple(params))


def _insert_totals(*, above_max: int, per_team: bool) -> int:
    """Team totals summed from this rebuild's owner rows, or firm-wide totals from its team
    totals. Every customer has a team (NOT NULL), so the team totals miss nobody."""
    quote = connection.ops.quote_name
    table = quote(RiskMonth._meta.db_table)
    month, owner, team = (quote(RiskMonth._meta.get_field(n).column) for n in ("month", "owner_id", "team_id"))
    if per_team:
        keys, where, group = f"{month}, NULL, {team}", f"{owner} IS NOT NULL", f"{month}, {team}"
    else:
        keys, where, group = f"{month}, NULL, NULL", f"{owner} IS NULL AND {team} IS NOT NULL", month
    pk = quote(RiskMonth._meta.pk.column)
    select = f"SELECT {keys}, {_sum_columns()} FROM {table} WHERE {pk} > %s AND {where} GROUP BY {group}"  # noqa: S608
    return _insert(select, (above_max,))


def rollup_repayment_add(*, facility_id: int, received_on: date, amount: Decimal) -> int:
    """Count a repayment just booked in the month's figures at once, instead of at the next
    rebuild (up to 30 minutes later, the dashboard's table showed "Repaid ¥0" meanwhile).

    Adds a row of ``repaid = amount`` at each level — the customer's owner and team, the team,
    the firm — beside the rebuilt ones: every reader sums a level's rows per month
    (``report.monthly_figures``), so a delta row counts like an update, takes no row lock other
    writers wait on and cannot deadlock; the next rebuild folds it in (three rows per repayment
    meanwhile). Call it in the booking's transaction: on PostgreSQL the INSERT waits while a
    rebuild holds its table lock, and a rebuild starting later waits for the booking to commit,
    so a repayment is counted by the rebuild or by its delta row, never by both or neither.
    Returns the rows written (none for a month older than the rebuild keeps)."""
    today = timezone.localdate()
    month = month_start(received_on, back=0)
    if month < month_start(today, back=MONTHS_KEPT - 1):
        return 0
    owner_id, team_id = Facility.objects.filter(pk=facility_id).values_list("owner_id", "team_id").get()
    amount = Decimal(amount)
    rows = RiskMonth.objects.bulk_create(
        RiskMonth(month=month, owner_id=owner, team_id=team, repaid=amount)
        for owner, team in ((owner_id, team_id), (None, team_id), (None, None))
    )
    return len(rows)


def rollup_rebuild(now: datetime | None = None) -> dict:
    """Recompute the flows of the last ``MONTHS_KEPT`` months and this month's exposure
    snapshot, carrying earlier snapshots over; swap the rows in one transaction.

    Readers see the old rows until the commit (the new rows are inserted beside them and the
    old ones deleted by id, not TRUNCATEd, which would lock the page out). Idempotent: run
    twice, the same rows (with new ids). Run under the job lock (risk.tasks); on PostgreSQL a
    table lock also serialises two rebuilds that might still meet, which would otherwise both
    keep their rows."""
    started = time.monotonic()
    local = timezone.get_default_timezone()
    today = timezone.localdate(now or timezone.now(), timezone=local)
    first = month_start(today, back=MONTHS_KEPT - 1)
    # One snapshot for every statement (crm.sql.rebuild_transaction): a repayment booked
    # mid-rebuild counts in both the facility's overdue state and the month's repaid, or in
    # neither; hash aggregates over millions of installments get the memory they need.
    with rebuild_transaction():
        if connection.vendor == "postgresql":
            # Before the first query, so the snapshot is taken after a rival rebuild commits.
            # SHARE ROW EXCLUSIVE lets the page read on and conflicts with itself.
            table = connection.ops.quote_name(RiskMonth._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        old_max = RiskMonth.objects.aggregate(top=Max("pk"))["top"] or 0
        owners = _insert_owner_level(_owner_parts(today=today, first=first, old_max=old_max, local=local))
        teams = _insert_totals(above_max=old_max, per_team=True)
        firm = _insert_totals(above_max=old_max, per_team=False)
        RiskMonth.objects.filter(pk__lte=old_max).delete()
    return {
        "months": MONTHS_KEPT,
        "rows": owners + teams + firm,
        "seconds": round(time.monotonic() - started, 3),
    }
