import datetime
from decimal import Decimal

import pytest

from risk.models import AlertRule, Facility, Repayment, RepaymentInstallment
from tests.factories import DealFactory

D = Decimal
START = datetime.date(2025, 1, 1)
MATURITY = datetime.date(2027, 12, 31)

# Four monthly installments; principal 100,000.00 each, interest falling as principal is repaid.
SCHEDULE = [
    (datetime.date(2025, 3, 31), D("100000.00"), D("5000.00")),  # cumulative 105,000.00
    (datetime.date(2025, 4, 30), D("100000.00"), D("4500.00")),  # cumulative 209,500.00
    (datetime.date(2025, 5, 31), D("100000.00"), D("4000.00")),  # cumulative 313,500.00
    (datetime.date(2025, 6, 30), D("100000.00"), D("3500.00")),  # cumulative 417,000.00
]


@pytest.fixture(autouse=True)
def shipped_rules_off(db):
    """The rules migration risk/0005 ships are switched off: each test enables what it tests,
    so a count of alerts raised is the count of that rule's alerts."""
    AlertRule.objects.update(enabled=False)


def make_facility(customer, *, drawn: str = "1000000.00", **kwargs) -> Facility:
    """A funded deal's facility, created directly (the funded-deal receiver does the same)."""
    deal = DealFactory(customer=customer, stage="funded")
    return Facility.objects.create(
        customer=customer,
        deal=deal,
        granted_limit=kwargs.pop("granted_limit", D("1200000.00")),
        limit=kwargs.pop("limit", D("1200000.00")),
        drawn=D(drawn),
        outstanding=D(drawn),
        start_date=START,
        maturity_date=MATURITY,
        created_by=customer.owner,
        **kwargs,
    )


def add_installments(facility: Facility, rows) -> None:
    """Write schedule rows directly: history the service would refuse to set in the past."""
    RepaymentInstallment.objects.bulk_create(
        RepaymentInstallment(facility=facility, due_date=due, principal=D(p), interest=D(i)) for due, p, i in rows
    )


def add_repayments(facility: Facility, rows) -> None:
    for received_on, amount in rows:
        Repayment.objects.create(
            facility=facility, received_on=received_on, amount=D(amount), entered_by=facility.created_by
        )


@pytest.fixture
def facility(customer):
    """rm1's customer's facility: 1,000,000.00 drawn on 2025-01-01, no schedule yet."""
    return make_facility(customer)


@pytest.fixture
def scheduled(facility):
    """The facility with the four installments of SCHEDULE and no repayments."""
    add_installments(facility, SCHEDULE)
    return facility
