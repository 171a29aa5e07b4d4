import pytest

from risk.models import AlertRule
from tests.factories import SCHEDULE, FacilityFactory, add_installments


@pytest.fixture(autouse=True)
def shipped_rules_off(db):
    """The rules migration risk/0005 ships are switched off: each test enables what it tests,
    so a count of alerts raised is the count of that rule's alerts."""
    AlertRule.objects.update(enabled=False)


@pytest.fixture
def facility(customer):
    """rm1's customer's facility: 1,000,000.00 drawn on 2025-01-01, no schedule yet."""
    return FacilityFactory(customer=customer)


@pytest.fixture
def scheduled(facility):
    """The facility with the four installments of SCHEDULE and no repayments."""
    add_installments(facility, SCHEDULE)
    return facility
