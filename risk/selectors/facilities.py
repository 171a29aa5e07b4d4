"""Reads of facilities: what is due, repaid and overdue on a date.

The rule (one rule, two implementations that tests hold equal):

- *Due so far* on ``today`` is principal + interest of every installment due on or before
  ``today``; *repaid* is every repayment received on or before ``today``.
- Repayments are applied to installments oldest due date first (waterfall); inside one
  installment interest is covered before principal. Money beyond the whole schedule pays down
  principal nobody scheduled yet (``drawn`` − scheduled principal) and beyond that is an
  overpayment that covers nothing.
- *Amount overdue* = max(0, due so far − repaid). A prepayment therefore covers later
  installments: it is simply part of "repaid".
- *Days overdue* = ``today`` − due date of the oldest installment that the repayments do not
  fully cover, counting only installments already due; 0 when nothing is overdue. Under the
  waterfall an installment is fully covered exactly when the cumulative schedule up to and
  including it is at most the total repaid, which is what the set-based form asks the database.

``facility_position`` walks one facility in Python for the facility page (it also reports each
installment's cover). ``with_overdue`` annotates any facility queryset with the same figures in
one SQL statement — correlated subqueries over the (facility, due_date) unique index and the
(facility, received_on) index, the cumulative schedule as a window ``SUM() OVER (ORDER BY
due_date)`` — so an alert job, the admin list or a dashboard can filter, sum and group by tier
over hundreds of thousands of facilities without a Python loop."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.db.models import (
    DateField,
    DecimalField,
    Expression,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, Round

from risk.models import Facility, Repayment, RepaymentInstallment

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=18, decimal_places=2)
# SQLite keeps decimals as binary floats, so a sum of cents can land a hair off the exact total
# (100.10 + 200.20 != 300.30). Every amount has whole cents, so real differences are at least
# 0.01: comparing "more than half a cent" is exact on PostgreSQL and immune to that noise.
HALF_CENT = Decimal("0.005")
# For the same reason the money annotations are rounded to cents in SQL (no-op on PostgreSQL):
# Django quantizes only plain columns when reading SQLite, not computed values.


# --- One facility, in Python ---------------------------------------------------------------------
@dataclass(frozen=True)
class InstallmentCover:
    installment: RepaymentInstallment
    interest_paid: Decimal
    principal_paid: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.installment.amount - self.interest_paid - self.principal_paid

    @property
    def covered(self) -> bool:
        return self.remaining == 0


@dataclass(frozen=True)
class Position:
    today: datetime.date
    due_so_far: Decimal
    repaid: Decimal
    amount_overdue: Decimal
    days_overdue: int
    oldest_unpaid_due: datetime.date | None
    principal_repaid: Decimal  # principal the waterfall covers, scheduled or not
    installments: list[InstallmentCover] = field(default_factory=list)


def waterfall(
    installments: list[RepaymentInstallment], repaid: Decimal, *, unscheduled_principal: Decimal = ZERO
) -> tuple[list[InstallmentCover], Decimal]:
    """Apply ``repaid`` to the installments in due order, interest before principal within
    each; what is left pays down ``unscheduled_principal``. Returns each installment's cover and
    the principal covered in total. Pure: knows nothing of dates or the database."""
    left = repaid
    covers = []
    principal_paid_total = ZERO
    for installment in sorted(installments, key=lambda i: i.due_date):
        interest_paid = min(left, installment.interest)
        left -= interest_paid
        principal_paid = min(left, installment.principal)
        left -= principal_paid
        principal_paid_total += principal_paid
        covers.append(InstallmentCover(installment, interest_paid, principal_paid))
    principal_paid_total += min(left, max(unscheduled_principal, ZERO))
    return covers, principal_paid_total


def facility_position(facility: Facility, *, today: datetime.date) -> Position:
    """The facility page's figures on ``today`` (usually ``timezone.localdate()``)."""
    installments = list(facility.installments.all())
    repaid = sum((r.amount for r in facility.repayments.filter(received_on__lte=today)), ZERO)
    scheduled_principal = sum((i.principal for i in installments), ZERO)
    covers, principal_repaid = waterfall(
        installments, repaid, unscheduled_principal=facility.drawn - scheduled_principal
    )
    due_so_far = sum((c.installment.amount for c in covers if c.installment.due_date <= today), ZERO)
    oldest = next((c.installment.due_date for c in covers if c.installment.due_date <= today and not c.covered), None)
    return Position(
        today=today,
        due_so_far=due_so_far,
        repaid=repaid,
        amount_overdue=max(ZERO, due_so_far - repaid),
        days_overdue=(today - oldest).days if oldest else 0,
        oldest_unpaid_due=oldest,
        principal_repaid=principal_repaid,
        installments=covers,
    )


# --- Many facilities, in SQL ---------------------------------------------------------------------
class DaysBetween(Func):
    """Whole days from ``earlier`` to ``later`` (two dates) as an integer, on both databases."""

    output_field = IntegerField()
    arity = 2
    template = "(%(expressions)s)"
    arg_joiner = " - "  # PostgreSQL: date - date is an integer number of days

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _due_so_far(today: datetime.date) -> Expression:
    due = (
        RepaymentInstallment.objects.filter(facility=OuterRef("pk"), due_date__lte=today)
        .order_by()
        .values("facility")
        .annotate(total=Sum(F("principal") + F("interest")))
        .values("total")
    )
    return Round(Coalesce(Subquery(due, output_field=MONEY), Value(ZERO)), 2, output_field=MONEY)


def _repaid(today: datetime.date) -> Expression:
    paid = (
        Repayment.objects.filter(facility=OuterRef("pk"), received_on__lte=today)
        .order_by()
        .values("facility")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Round(Coalesce(Subquery(paid, output_field=MONEY), Value(ZERO)), 2, output_field=MONEY)


def _oldest_unpaid_due(today: datetime.date) -> Expression:
    """Due date of the first installment (already due) whose cumulative schedule is more than
    the facility's ``repaid`` annotation: the oldest one the waterfall leaves uncovered."""
    uncovered = (
        RepaymentInstallment.objects.filter(facility=OuterRef("pk"), due_date__lte=today)
        .annotate(
            cumulative_due=Window(
                Sum(F("principal") + F("interest"), output_field=MONEY),
                partition_by=[F("facility_id")],
                order_by=F("due_date").asc(),
            )
        )
        # Django puts the window in a derived table and filters outside it (QUALIFY-style).
        .filter(cumulative_due__gt=OuterRef("repaid") + Value(HALF_CENT))
        .order_by("due_date")
        .values("due_date")[:1]
    )
    return Subquery(uncovered, output_field=DateField())


def with_overdue(queryset: QuerySet[Facility], *, today: datetime.date) -> QuerySet[Facility]:
    """Annotate ``due_so_far``, ``repaid``, ``amount_overdue``, ``oldest_unpaid_due`` and
    ``days_overdue`` (int, 0 when nothing is overdue) as of ``today``, in the same query."""
    return (
        queryset.annotate(due_so_far=_due_so_far(today), repaid=_repaid(today))
        .annotate(
            amount_overdue=Round(Greatest(F("due_so_far") - F("repaid"), Value(ZERO)), 2, output_field=MONEY),
            oldest_unpaid_due=_oldest_unpaid_due(today),
        )
        .annotate(
            days_overdue=Coalesce(
                DaysBetween(Value(today, output_field=DateField()), F("oldest_unpaid_due")),
                Value(0),
                output_field=IntegerField(),
            )
        )
    )


def facilities_overdue_more_than(
    days: int, *, today: datetime.date, queryset: QuerySet[Facility] | None = None
) -> QuerySet[Facility]:
    """Facilities with a payment more than ``days`` days overdue on ``today`` (alert rules).
    Filters on the oldest uncovered due date, which is the same as ``days_overdue > days``."""
    queryset = Facility.objects.all() if queryset is None else queryset
    return with_overdue(queryset, today=today).filter(overdue_more_than(days, today=today))


def overdue_more_than(days: int, *, today: datetime.date) -> Q:
    """On a queryset annotated by ``with_overdue``: a payment more than ``days`` days overdue.
    ``days=0`` is what the pages call "overdue" — an installment due today is not yet."""
    return Q(oldest_unpaid_due__lt=today - datetime.timedelta(days=days))


def overdue_split(days: int, *, today: datetime.date) -> tuple[Q, Q]:
    """(more than ``days`` overdue, not), on a queryset annotated by ``with_overdue``: the two
    halves of ``overdue_more_than``, read from the uncovered due date the database keeps on each
    facility (migration 0012) wherever it holds — every repayment received by ``today`` — and
    worked out by the waterfall only for a facility with a later one (as the payment-overdue
    rule does). The facility list filters by these: in list order the kept column is a test
    per row, where the waterfall was two sums per row (2.9 s for a risk officer's first page of
    overdue facilities at 500,000)."""
    cutoff = today - datetime.timedelta(days=days)
    kept = Q(last_repaid_on__isnull=True) | Q(last_repaid_on__lte=today)
    later = ~kept  # the cheap test first: the waterfall's sums only where it fails
    overdue = (kept & Q(first_unpaid_due__lt=cutoff)) | (later & overdue_more_than(days, today=today))
    covered = (kept & (Q(first_unpaid_due__isnull=True) | Q(first_unpaid_due__gte=cutoff))) | (
        later & (Q(oldest_unpaid_due__isnull=True) | Q(oldest_unpaid_due__gte=cutoff))
    )
    return overdue, covered


# --- Schedule lines as the pages show them ---------------------------------------------------------
class InstallmentState(StrEnum):
    PAID = "paid"
    OVERDUE = "overdue"  # due before today and not fully covered: counts in days overdue
    DUE = "due"  # due today or later, not fully covered yet


def installment_state(cover: InstallmentCover, *, today: datetime.date) -> InstallmentState:
    """The state of one line of ``facility_position``'s waterfall, by the rule above."""
    if cover.covered:
        return InstallmentState.PAID
    if cover.installment.due_date < today:
        return InstallmentState.OVERDUE
    return InstallmentState.DUE


# --- What repayments can still cover ---------------------------------------------------------------
def still_owed(facility: Facility, *, interest: Decimal, repaid: Decimal) -> Decimal:
    """What repayments can still cover: outstanding principal plus scheduled interest not yet
    paid (``interest`` is the whole schedule's, ``repaid`` every repayment's). Under the
    waterfall the schedule and the unscheduled principal absorb drawn + Σ interest in all;
    money beyond that is an overpayment that covers nothing. Without a schedule this is exactly
    ``drawn − repaid``, i.e. the outstanding amount. The import and a repayment entered by hand
    refuse more than this."""
    return max(facility.drawn + interest - repaid, ZERO)
