"""The dashboard's panels beside the KPIs: alerts, the watch list and reviews overdue (live), and
exposure by tier (the rollup's latest snapshot).

Selectors only. Each takes a queryset the caller has already scoped with the access helpers
(``customers_for`` / ``alerts_for``), so nothing here can count a customer the user may not
see. Every query is bounded: a LIMIT on an index order, a range on an indexed column, or a
GROUP BY into a handful of rows."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Case, Count, IntegerField, QuerySet, Sum, Value, When
from django.utils import timezone

from crm.dates import month_start, week_start
from crm.models import Team
from crm.scope import Scope
from customers.choices import Tier
from customers.models import Customer
from risk.dashboard.rollup import TIER_COLUMNS
from risk.models import (
    ACT_ON_CONDITION,
    ACT_ON_ORDER,
    UNRESOLVED,
    AlertDayTotal,
    AlertDayZone,
    AlertSeverity,
    AlertStatus,
    AlertTotal,
)

SEVERITIES = [AlertSeverity.CRITICAL, AlertSeverity.WARNING, AlertSeverity.INFO]  # worst first
TIERS = [Tier.AA, Tier.A, Tier.B, Tier.UNRATED]
WEEKS = 12
LIST_SIZE = 20  # watch list and reviews overdue
ACT_SIZE = 10  # alerts to act on
_CENT = Decimal("0.01")
_OWNER = ("owner__username", "owner__first_name", "owner__last_name")


# --- Unresolved alerts by severity and team --------------------------------------------------
@dataclass(frozen=True)
class SeverityCount:
    severity: str
    label: str
    open: int
    acknowledged: int

    @property
    def total(self) -> int:
        return self.open + self.acknowledged


@dataclass(frozen=True)
class TeamAlerts:
    code: str  # the team's public code: the alert list's team filter takes it
    name: str
    counts: dict[str, int]  # severity -> unresolved alerts
    cells: list[tuple[str, int]]  # (severity, count) in SEVERITIES order, for the template

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class AlertCounts:
    severities: list[SeverityCount]
    teams: list[TeamAlerts]

    @property
    def open(self) -> int:
        return sum(row.open for row in self.severities)

    @property
    def unresolved(self) -> int:
        return sum(row.total for row in self.severities)


def alerts_to_act_on(alerts: QuerySet, *, limit: int = ACT_SIZE) -> list:
    """Unresolved critical and warning alerts, most pressing first: escalated ones, then
    critical before warning, newest first within each. Open ones wait for someone to
    acknowledge them, acknowledged ones for the note that resolves them."""
    return list(
        alerts.filter(ACT_ON_CONDITION)
        .select_related("customer", "rule", "assignee", "escalated_to")
        .order_by(*ACT_ON_ORDER)[:limit]  # the first rows of the alert_*act_on indexes
    )


@dataclass(frozen=True)
class WeekRow:
    week: date  # the Monday, local time
    counts: dict[str, int]  # severity -> alerts opened that week

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def alert_summary(
    alerts: QuerySet, *, scope: Scope, today: date, teams: QuerySet | None, by_team: bool, weeks: int = WEEKS
) -> tuple[AlertCounts, list[WeekRow]]:
    """Unresolved alerts (open or acknowledged) per severity and status and per team, and the
    alerts opened per local (Asia/Shanghai) week, Monday to Sunday, over the last ``weeks``
    weeks by severity.

    Both come from what the database keeps, cut by ``scope`` as ``alerts`` is: the counts per
    status (``AlertTotal``) and the alerts opened per local day (``AlertDayTotal``). Grouping
    the alerts themselves cost 159 ms firm-wide at 363k alerts; the weeks are counted from
    ``alerts`` only while the kept days are in another zone than TIME_ZONE (``days_kept``).

    ``by_team``: group by team as well (for users who may see several teams). ``teams``: the
    teams to list even without alerts (one query); without it, the teams that have alerts are
    named by one query."""
    first = week_start(today) - timedelta(weeks=weeks - 1)
    mondays = [first + timedelta(weeks=n) for n in range(weeks)]
    if days_kept():
        by_week = _weeks_kept(scope, first=first, mondays=mondays)
    else:
        by_week = _weeks_counted(alerts, mondays=mondays)

    keys = ["severity", "status"] + (["team_id"] if by_team else [])
    unresolved = (
        scope.rows(AlertTotal.objects.filter(status__in=UNRESOLVED)).order_by().values(*keys).annotate(n=Sum("count"))
    )
    by_severity: dict[tuple[str, str], int] = {}
    per_team: dict[int | None, dict[str, int]] = {}
    for row in unresolved:
        severity, n = row["severity"], row["n"]
        if not n:
            continue  # rows whose alerts all moved on
        key = (severity, row["status"])
        by_severity[key] = by_severity.get(key, 0) + n
        counts = per_team.setdefault(row.get("team_id"), {})
        counts[severity] = counts.get(severity, 0) + n
    if teams is None:
        teams = Team.objects.filter(pk__in=[pk for pk in per_team if pk is not None])
    team_rows = []
    for team in teams.only("pk", "code", "name").order_by("name"):
        # Without by_team the alerts are all of the one team listed (a team manager's).
        counts = per_team.get(team.pk if by_team else None, {})
        team_rows.append(
            TeamAlerts(
                code=str(team.code),
                name=team.name,
                counts=counts,
                cells=[(s.value, counts.get(s.value, 0)) for s in SEVERITIES],
            )
        )
    summary = AlertCounts(
        severities=[
            SeverityCount(
                severity=severity.value,
                label=str(severity.label),
                open=by_severity.get((severity.value, AlertStatus.OPEN.value), 0),
                acknowledged=by_severity.get((severity.value, AlertStatus.ACKNOWLEDGED.value), 0),
            )
            for severity in SEVERITIES
        ],
        teams=team_rows,
    )
    week_rows = [
        WeekRow(week=monday, counts=by_week.get(monday, {}))
        for monday in (first + timedelta(weeks=n) for n in range(weeks))
    ]
    return summary, week_rows


def days_kept() -> bool:
    """Whether ``AlertDayTotal`` holds days of the zone the dashboard shows (TIME_ZONE): the
    triggers that keep it were made in the zone of their migration (risk/0015)."""
    return AlertDayZone.objects.filter(zone=settings.TIME_ZONE).exists()


def _weeks_kept(scope: Scope, *, first: date, mondays: list[date]) -> dict[date, dict[str, int]]:
    """Alerts opened per week and severity, from the days the database keeps: a row per RM,
    severity and day, at most a few thousand for the firm's twelve weeks."""
    days = (
        scope.rows(AlertDayTotal.objects.filter(day__gte=first))
        .order_by()
        .values("severity", "day")
        .annotate(n=Sum("count"))
    )
    by_week: dict[date, dict[str, int]] = {}
    for row in days:
        if not row["n"]:
            continue
        # A day after this week (an alert dated ahead) counts in this week, as below.
        monday = mondays[min((row["day"] - first).days // 7, len(mondays) - 1)]
        counts = by_week.setdefault(monday, {})
        counts[row["severity"]] = counts.get(row["severity"], 0) + row["n"]
    return by_week


def _weeks_counted(alerts: QuerySet, *, mondays: list[date]) -> dict[date, dict[str, int]]:
    """The same from the alerts themselves: every alert opened since the first Monday."""
    local = timezone.get_default_timezone()
    # The week is found by comparing with the weeks' first instants (local Mondays, 00:00): a
    # date_trunc in local time on every row cost more than the counting itself.
    starts = [timezone.make_aware(datetime.combine(monday, time.min), local) for monday in mondays]
    week = Case(
        *(When(opened_at__gte=start, then=Value(n)) for n, start in reversed(list(enumerate(starts)))),
        output_field=IntegerField(),
    )
    opened = (
        alerts.filter(opened_at__gte=starts[0])
        .order_by()
        .annotate(week=week)
        .values("severity", "week")
        .annotate(n=Count("pk"))
    )
    by_week: dict[date, dict[str, int]] = {}
    for row in opened:
        counts = by_week.setdefault(mondays[row["week"]], {})
        counts[row["severity"]] = counts.get(row["severity"], 0) + row["n"]
    return by_week


# --- Customers to review ---------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerList:
    customers: list
    count: int  # all of them, not just the ones listed


def watch_list(customers: QuerySet, *, limit: int = LIST_SIZE) -> CustomerList:
    """Customers on the watch list (``watch_review_by`` set by risk.services.watch), soonest first. The
    first twenty are picked by id in a subquery, so only their rows are read in full: the
    thousands of others on a big team's list are compared by date alone."""
    on_list = customers.filter(watch_review_by__isnull=False)
    first = on_list.order_by("watch_review_by", "id").values("pk")[:limit]
    rows = list(
        Customer.objects.filter(pk__in=first)
        .select_related("owner")
        .only("code", "name", "tier", "watch_review_by", "next_review_date", *_OWNER)
        .order_by("watch_review_by", "id")
    )
    return CustomerList(rows, len(rows) if len(rows) < limit else on_list.count())


def reviews_overdue(customers: QuerySet, *, today: date, limit: int = LIST_SIZE) -> CustomerList:
    """Customers whose next review date has passed, most overdue first (the next_review_date
    index)."""
    overdue = customers.filter(next_review_date__lt=today)
    rows = list(
        overdue.select_related("owner")
        .only("code", "name", "tier", "next_review_date", *_OWNER)
        .order_by("next_review_date", "id")[:limit]
    )
    return CustomerList(rows, len(rows) if len(rows) < limit else overdue.count())


# --- Exposure by tier ------------------------------------------------------------------------
@dataclass(frozen=True)
class TierExposure:
    tier: str
    label: str
    facilities: int
    outstanding: Decimal
    share: Decimal | None  # percent of all outstanding


def exposure_by_tier(rows: QuerySet | None, *, today: date) -> list[TierExposure] | None:
    """Outstanding per customer tier (AA, A, B, Unrated, empty tiers included) and the
    facilities with anything outstanding, as of the last rollup rebuild: the snapshot by tier
    of ``rows``, the ``RiskMonth`` rows of the caller's level (``risk.dashboard.rollup_rows``).
    One query over a handful of rows; the facilities are never read here.

    The snapshot is the latest month's that has one, which is this month's but in the minutes
    between midnight on the 1st and the month's first rebuild (then last month's last one,
    still "as of" that rebuild). None without a snapshot by tier: before the first rebuild,
    or for a level the rebuild wrote no row for (an RM without facilities). Delta rows
    (``rollup_repayment_add``) hold no snapshot and are left out."""
    if rows is None:
        return None
    sums = {f"s_{name}": Sum(name) for _tier, money, count in TIER_COLUMNS for name in (money, count)}
    latest = (
        rows.filter(month__lte=month_start(today, back=0), facilities_aa__isnull=False)
        .order_by()
        .values("month")
        .annotate(**sums)
        .order_by("-month")
        .first()
    )
    if latest is None:
        return None
    amounts = {
        tier: Decimal(latest[f"s_{money}"] or 0).quantize(_CENT, rounding=ROUND_HALF_UP)
        for tier, money, _count in TIER_COLUMNS
    }
    grand = sum(amounts.values(), Decimal("0"))
    return [
        TierExposure(
            tier=tier.value,
            label=str(tier.label),
            facilities=latest[f"s_{count}"] or 0,
            outstanding=amounts[tier],
            share=(amounts[tier] * 100 / grand).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if grand else None,
        )
        for tier, _money, count in TIER_COLUMNS
    ]
