"""risk.services.facility_open: what a funded deal becomes."""

import datetime
from decimal import Decimal as D

import pytest

from risk.services import facility_open
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

START, MATURITY = datetime.date(2025, 3, 1), datetime.date(2027, 3, 1)


def test_the_facility_is_granted_the_approved_limit_and_drawn_in_full(customer, rm1):
    deal = DealFactory(customer=customer, stage="funded", proposed_limit=D("20000000.00"))
    facility = facility_open(deal=deal, by=rm1, amount=D("15000000.00"), start_date=START, maturity_date=MATURITY)
    assert (facility.granted_limit, facility.limit) == (D("20000000.00"), D("20000000.00"))
    assert (facility.drawn, facility.outstanding) == (D("15000000.00"), D("15000000.00"))
    assert (facility.customer_id, facility.created_by, facility.maturity_date) == (customer.pk, rm1, MATURITY)


def test_without_an_approved_limit_the_funded_amount_is_the_limit(customer, rm1):
    deal = DealFactory(customer=customer, stage="funded", proposed_limit=None)
    facility = facility_open(deal=deal, by=rm1, amount=D("5000000.00"), start_date=START, maturity_date=None)
    assert (facility.granted_limit, facility.limit, facility.drawn) == (D("5000000.00"),) * 3
    assert facility.maturity_date is None
