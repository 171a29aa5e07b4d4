"""How far a facility's repayments reach, as the database keeps it (Facility.first_unpaid_due and
last_repaid_on, triggers of migration risk/0012), under random play: installments added, moved and
removed, a schedule replaced, repayments recorded by the service, bulk-inserted, corrected by
an UPDATE, deleted. After every step the kept values equal the waterfall worked out in Python,
and the payment-overdue rule (which reads them) names the same customers as the facility
selector (which sums the tables) on days before, between and after the payments.

Each example runs inside a savepoint rolled back at its end, so every example starts from two
facilities with no schedule and no repayments."""

import contextlib
import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from customers.models import Customer
from risk.alerts.kinds import KINDS
from risk.exceptions import RepaymentRefused
from risk.models import AlertKind, Facility, Repayment, RepaymentInstallment
from risk.selectors import facilities_overdue_more_than, overdue_split, with_overdue
from risk.services import repayment_record
from tests.factories import FacilityFactory, add_installments, add_repayments
from tests.stateful import InSavepoint, machine_settings

pytestmark = pytest.mark.django_db

START = datetime.date(2025, 1, 1)
dates = st.integers(0, 240).map(lambda days: START + datetime.timedelta(days=days))
# Whole and odd amounts: SQLite sums them as binary floats, the half fen must absorb that.
amounts = st.sampled_from([Decimal(x) for x in ("0.01", "34999.84", "35000.14", "100000.00", "104999.99", "105000")])
which = st.integers(0, 1)
picks = st.integers(0, 10**6)


def waterfall(facility: Facility) -> tuple[datetime.date | None, datetime.date | None]:
    """(first installment not covered, latest repayment), in exact decimals."""
    repaid = sum(Repayment.objects.filter(facility=facility).values_list("amount", flat=True), Decimal(0))
    cumulative = Decimal(0)
    first = None
    for due, principal, interest in (
        RepaymentInstallment.objects.filter(facility=facility)
        .order_by("due_date")
        .values_list("due_date", "principal", "interest")
    ):
        cumulative += principal + interest
        if cumulative > repaid:
            first = due
            break
    dates = Repayment.objects.filter(facility=facility).values_list("received_on", flat=True)
    return first, max(dates, default=None)


class Cover(InSavepoint):
    def __init__(self, facilities: list[Facility]):
        super().__init__()
        self.facilities = facilities

    def facility(self, i: int) -> Facility:
        return Facility.objects.get(pk=self.facilities[i].pk)

    # --- the schedule ---------------------------------------------------------------------------
    @rule(i=which, due=dates, amount=amounts)
    def add_installment(self, i, due, amount):
        if not RepaymentInstallment.objects.filter(facility=self.facilities[i], due_date=due).exists():
            add_installments(self.facility(i), [(due, amount, Decimal("0"))])

    @rule(pick=picks, days=st.integers(1, 60))
    def move_installment(self, pick, days):
        ids = list(RepaymentInstallment.objects.order_by("pk").values_list("pk", flat=True))
        if ids:
            installment = RepaymentInstallment.objects.get(pk=ids[pick % len(ids)])
            due = installment.due_date + datetime.timedelta(days=days)
            if not RepaymentInstallment.objects.filter(facility=installment.facility_id, due_date=due).exists():
                RepaymentInstallment.objects.filter(pk=installment.pk).update(due_date=due)

    @rule(i=which, after=dates, dues=st.lists(dates, max_size=3, unique=True), amount=amounts)
    def replace_schedule_after(self, i, after, dues, amount):
        """A schedule replaced from a date on: one DELETE, one bulk INSERT."""
        facility = self.facility(i)
        RepaymentInstallment.objects.filter(facility=facility, due_date__gt=after).delete()
        RepaymentInstallment.objects.bulk_create(
            RepaymentInstallment(facility=facility, due_date=due, principal=amount, interest=Decimal("1.50"))
            for due in dues
            if due > after
        )

    # --- the money ------------------------------------------------------------------------------
    @rule(i=which, on=dates, amount=amounts)
    def record(self, i, on, amount):
        """As the facility page and the import record a repayment."""
        facility = self.facility(i)
        with contextlib.suppress(RepaymentRefused):  # more than is owed, before the start
            repayment_record(facility=facility, received_on=on, amount=amount, by=facility.created_by)

    @rule(i=which, rows=st.lists(st.tuples(dates, amounts), min_size=1, max_size=3))
    def bulk_insert(self, i, rows):
        """Rows written around the service (a shell, a data fix), dates after "today" too."""
        facility = self.facility(i)
        Repayment.objects.bulk_create(
            Repayment(facility=facility, received_on=on, amount=amount, entered_by=facility.created_by)
            for on, amount in rows
        )

    @rule(cents=st.sampled_from([Decimal("0.01"), Decimal("-0.01"), Decimal("1000")]))
    def correct_every_repayment(self, cents):
        Repayment.objects.filter(amount__gt=Decimal("1000.01")).update(amount=F("amount") + cents)

    @rule(pick=picks)
    def delete_repayment(self, pick):
        ids = list(Repayment.objects.order_by("pk").values_list("pk", flat=True))
        if ids:
            Repayment.objects.filter(pk=ids[pick % len(ids)]).delete()

    # --- what must always hold ------------------------------------------------------------------
    @invariant()
    def kept_equals_the_waterfall(self):
        for facility in Facility.objects.filter(pk__in=[f.pk for f in self.facilities]):
            assert (facility.first_unpaid_due, facility.last_repaid_on) == waterfall(facility)

    @invariant()
    def the_rule_names_who_the_selector_names(self):
        kind = KINDS[AlertKind.PAYMENT_OVERDUE]
        for offset, days in ((60, 0), (130, 30), (400, 0)):
            today = START + datetime.timedelta(days=offset)
            by_rule = set(kind.bad(Customer.objects.all(), {"days": days}, today))
            by_selector = set(facilities_overdue_more_than(days, today=today).values_list("customer_id", flat=True))
            assert by_rule == by_selector, (today, days)

    @invariant()
    def the_lists_overdue_filter_splits_as_the_waterfall_does(self):
        # The facility list's "Overdue" / "Not overdue" (risk.selectors.overdue_split) read the
        # kept columns, the waterfall only past them: each facility on exactly the side its
        # days overdue put it, on days before, between and after the payments.
        ids = [f.pk for f in self.facilities]
        for offset, days in ((60, 0), (130, 30), (400, 0)):
            today = START + datetime.timedelta(days=offset)
            annotated = with_overdue(Facility.objects.filter(pk__in=ids), today=today)
            overdue, covered = overdue_split(days, today=today)
            late = {pk for pk, overdue_days in annotated.values_list("pk", "days_overdue") if overdue_days > days}
            assert set(annotated.filter(overdue).values_list("pk", flat=True)) == late, (today, days)
            assert set(annotated.filter(covered).values_list("pk", flat=True)) == set(ids) - late, (today, days)


def test_kept_cover_equals_the_waterfall_under_random_play(rm1):
    facilities = [FacilityFactory(customer__owner=rm1, customer__team=rm1.team) for _ in range(2)]
    run_state_machine_as_test(
        lambda: Cover(facilities),
        settings=machine_settings(examples=20, steps=12),
    )


def test_a_facility_without_schedule_or_money_is_covered(rm1):
    facility = FacilityFactory(customer__owner=rm1, customer__team=rm1.team)
    assert (facility.first_unpaid_due, facility.last_repaid_on) == (None, None)
    add_installments(facility, [(datetime.date(2025, 3, 31), "100000.00", "5000.00")])
    facility.refresh_from_db()
    assert facility.first_unpaid_due == datetime.date(2025, 3, 31)
    add_repayments(facility, [(datetime.date(2025, 3, 30), "105000.00")])
    facility.refresh_from_db()
    assert (facility.first_unpaid_due, facility.last_repaid_on) == (None, datetime.date(2025, 3, 30))
