"""Reads for the portfolio overview pages: customers and exposure per tier, the tier migration
(transition) matrix between two dates, and data-quality counts. Selectors only: each takes a
customer queryset that the caller has already scoped with ``customers_for``, so
nothing here can count a customer the user may not see."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import keyset
from customers.choices import Tier
from customers.grading import ScorecardSpec
from customers.models import Grade
from customers.quality import incomplete_condition, stale_condition

TIERS = [Tier.AA, Tier.A, Tier.B, Tier.UNRATED]
# A customer without any Grade row by a date: not the same as Unrated (graded, data missing).
NOT_GRADED = "not_graded"
NOT_GRADED_LABEL = _("Not graded yet")
# Better tiers first; Unrated and "not graded" are outside the rating scale, so moving into or
# out of them is neither an upgrade nor a downgrade.
_RANK = {Tier.AA: 0, Tier.A: 1, Tier.B: 2}

STAYED = "stayed"
UPGRADE = "upgrade"
DOWNGRADE = "downgrade"
OTHER = "other"

_PERCENT = Decimal("0.1")


def _percent(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_PERCENT, rounding=ROUND_HALF_UP)


# --- Customers and exposure per tier ------------------------------------------------------------
@dataclass(frozen=True)
class TierRow:
    tier: str
    label: str
    customers: int
    exposure: Decimal  # sum of credit limits, CNY
    share: Decimal | None  # percent of the total exposure; None when there is no exposure at all


def tier_summary(queryset: QuerySet) -> list[TierRow]:
    """One row per tier (AA, A, B, Unrated, in that order, empty tiers included) with the
    number of customers, their exposure (sum of credit limits) and its share of the total.
    One aggregate query."""
    zero = Value(Decimal("0"), output_field=DecimalField(max_digits=20, decimal_places=2))
    aggregates = {}
    for i, tier in enumerate(TIERS):
        aggregates[f"n{i}"] = Count("pk", filter=Q(tier=tier))
        aggregates[f"x{i}"] = Coalesce(Sum("credit_limit", filter=Q(tier=tier)), zero)
    totals = queryset.order_by().aggregate(**aggregates)
    exposures = [Decimal(totals[f"x{i}"]).quantize(Decimal("0.01")) for i in range(len(TIERS))]
    grand = sum(exposures, Decimal("0"))
    return [
        TierRow(
            tier=tier.value,
            label=str(tier.label),
            customers=totals[f"n{i}"],
            exposure=exposures[i],
            share=_percent(exposures[i], grand),
        )
        for i, tier in enumerate(TIERS)
    ]


# --- Tier transition (migration) matrix ---------------------------------------------------------
@dataclass(frozen=True)
class MatrixCell:
    to_tier: str
    count: int
    share: Decimal | None  # percent of the row
    kind: str  # STAYED, UPGRADE, DOWNGRADE or OTHER


@dataclass(frozen=True)
class MatrixRow:
    from_tier: str
    label: str
    cells: list[MatrixCell]
    total: int


@dataclass(frozen=True)
class TransitionMatrix:
    start: date
    end: date
    columns: list[tuple[str, str]]  # (tier key, label)
    rows: list[MatrixRow]
    counts: dict[tuple[str, str], int]  # (tier at start, tier at end) -> customers
    column_totals: list[int]  # customers per tier at end, in the order of columns
    total: int

    def _sum(self, kind: str) -> int:
        return sum(cell.count for row in self.rows for cell in row.cells if cell.kind == kind)

    @property
    def stayed(self) -> int:
        return self._sum(STAYED)

    @property
    def upgrades(self) -> int:
        return self._sum(UPGRADE)

    @property
    def downgrades(self) -> int:
        return self._sum(DOWNGRADE)


def _kind(from_tier: str, to_tier: str) -> str:
    if from_tier == to_tier:
        return STAYED
    if from_tier in _RANK and to_tier in _RANK:
        return UPGRADE if _RANK[to_tier] < _RANK[from_tier] else DOWNGRADE
    return OTHER


def day_end(day: date) -> datetime:
    """The first instant after ``day`` in the project's time zone (Asia/Shanghai): a grade
    "at the end of the day" is one created before this. Computed in local time, so a grade at
    00:30 Shanghai time — still the previous day in UTC — belongs to the day it was made."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), timezone.get_default_timezone())


def _tier_at(bound: datetime) -> Subquery:
    # The newest grade row before the bound; the id breaks ties between rows of one re-grade.
    # Served by the (customer, -created_at) index.
    latest = Grade.objects.filter(customer_id=OuterRef("pk"), created_at__lt=bound).order_by("-created_at", "-id")
    return Subquery(latest.values("tier")[:1])


def transition_matrix(queryset: QuerySet, start: date, end: date) -> TransitionMatrix:
    """How the customers in ``queryset`` moved between tiers from the end of ``start`` to the
    end of ``end`` (the credit-risk migration table: rows = effective tier at start, columns =
    tier at end, the diagonal = unchanged). A customer without a grade by a date counts as
    "Not graded yet". One query: a correlated subquery per date, grouped in the database."""
    if start > end:
        raise ValueError("start must not be after end")
    pairs = (
        queryset.order_by()
        .annotate(from_tier=_tier_at(day_end(start)), to_tier=_tier_at(day_end(end)))
        .values("from_tier", "to_tier")
        .annotate(n=Count("pk"))
    )
    counts: dict[tuple[str, str], int] = {}
    for pair in pairs:
        key = (pair["from_tier"] or NOT_GRADED, pair["to_tier"] or NOT_GRADED)
        counts[key] = counts.get(key, 0) + pair["n"]

    keys = [*(t.value for t in TIERS), NOT_GRADED]
    labels = {**{t.value: str(t.label) for t in TIERS}, NOT_GRADED: str(NOT_GRADED_LABEL)}
    rows = []
    for from_tier in keys:
        row_total = sum(counts.get((from_tier, to_tier), 0) for to_tier in keys)
        cells = [
            MatrixCell(
                to_tier=to_tier,
                count=counts.get((from_tier, to_tier), 0),
                share=_percent(counts.get((from_tier, to_tier), 0), row_total),
                kind=_kind(from_tier, to_tier),
            )
            for to_tier in keys
        ]
        rows.append(MatrixRow(from_tier=from_tier, label=labels[from_tier], cells=cells, total=row_total))
    return TransitionMatrix(
        start=start,
        end=end,
        columns=[(key, labels[key]) for key in keys],
        rows=rows,
        counts=counts,
        column_totals=[sum(counts.get((from_tier, to_tier), 0) for from_tier in keys) for to_tier in keys],
        total=sum(counts.values()),
    )


# --- Data quality -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityCounts:
    incomplete: int  # customers missing at least one scorecard input
    stale: int  # customers with at least one source older than their tier policy allows
    # Each count stops at crm.keyset.COUNT_CAP: "more than 1,000" is all a page needs to say.
    incomplete_capped: bool = False
    stale_capped: bool = False
    needing: int = 0  # incomplete or stale (or both)
    needing_capped: bool = False


def quality_counts(queryset: QuerySet, *, spec: ScorecardSpec, policies: dict, today: date) -> QualityCounts:
    """How many customers are incomplete, how many stale and how many either, by the rule of
    customers.quality, each capped at crm.keyset.COUNT_CAP: a full count would read the whole
    scope (a million rows for an admin) on every view of the page. Two queries, each reading
    at most 1,001 ids (customer_*incomplete; a team's stale ones by customer_team_oldest_source);
    "either" is their union, which is exact unless one of them was capped — and then so is it."""
    cap = keyset.COUNT_CAP
    found = []
    for condition in (incomplete_condition(spec), stale_condition(spec, policies=policies, today=today)):
        ids = list(queryset.filter(condition).order_by().values_list("pk", flat=True)[: cap + 1]) if condition else []
        found.append(ids)
    incomplete, stale = found
    either = set(incomplete) | set(stale)
    return QualityCounts(
        incomplete=min(len(incomplete), cap),
        stale=min(len(stale), cap),
        incomplete_capped=len(incomplete) > cap,
        stale_capped=len(stale) > cap,
        needing=min(len(either), cap),
        needing_capped=len(incomplete) > cap or len(stale) > cap or len(either) > cap,
    )
