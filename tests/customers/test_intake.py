from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers.models import CreditReport, Grade
from customers.services import source_add

pytestmark = pytest.mark.django_db


def statement(**overrides):
    values = {
        "as_of": date(2025, 12, 31),
        "revenue": Decimal("800000000"),
        "net_profit": Decimal("60000000"),
        "total_assets": Decimal("2000000000"),
        "total_liabilities": Decimal("1100000000"),
        "current_assets": Decimal("600000000"),
        "current_liabilities": Decimal("400000000"),
    }
    return {**values, **overrides}


def report(**overrides):
    values = {
        "as_of": date(2026, 3, 1),
        "rating": "AA",
        "overdue_count": 0,
        "overdue_amount": Decimal("0"),
        "outstanding_debt": Decimal("900000000"),
        "litigation": False,
    }
    return {**values, **overrides}


def complete(customer, by):
    source_add("credit_report", customer=customer, by=by, **report())
    source_add("financial_statement", customer=customer, by=by, **statement())
    source_add(
        "funding_need",
        customer=customer,
        by=by,
        as_of=date(2026, 4, 1),
        project_amount=Decimal("300000000"),
        purpose="Offshore wind farm phase 2",
        term_months=120,
    )
    source_add(
        "cooperation_record",
        customer=customer,
        by=by,
        as_of=date(2019, 5, 1),
        kind="loan",
        description="Working-capital loan",
    )


def test_each_source_updates_the_inputs_and_regrades(customer, rm1):
    source_add("credit_report", customer=customer, by=rm1, **report())
    customer.refresh_from_db()
    assert (customer.bureau_rating, customer.overdue_count, customer.has_litigation) == ("AA", 0, False)
    assert customer.credit_report_date == date(2026, 3, 1)
    assert customer.tier == "unrated"  # statements, funding need, cooperation still missing

    complete(customer, rm1)
    customer.refresh_from_db()
    assert customer.debt_ratio == Decimal("0.5500")
    assert customer.current_ratio == Decimal("1.5000")
    assert customer.project_amount == Decimal("300000000.00")
    assert customer.cooperation_since == date(2019, 5, 1)
    assert customer.tier in ("AA", "A", "B")
    assert customer.grades.filter(reason="data_changed").exists()


def test_the_newest_report_wins_even_when_entered_first(customer, rm1):
    source_add("credit_report", customer=customer, by=rm1, **report(as_of=date(2026, 5, 1), rating="BBB"))
    source_add("credit_report", customer=customer, by=rm1, **report(as_of=date(2025, 5, 1), rating="AAA"))
    customer.refresh_from_db()
    assert customer.bureau_rating == "BBB"


def test_a_downgrading_report_lowers_the_tier_and_records_why(customer, rm1):
    complete(customer, rm1)
    customer.refresh_from_db()
    before = customer.tier
    source_add(
        "credit_report",
        customer=customer,
        by=rm1,
        **report(as_of=date(2026, 6, 1), rating="B", overdue_count=4, litigation=True),
    )
    customer.refresh_from_db()
    assert customer.tier != before
    latest = Grade.objects.filter(customer=customer).first()
    assert (latest.previous_tier, latest.tier) == (before, customer.tier)


def test_invalid_record_saves_nothing(customer, rm1):
    with pytest.raises(ValidationError):
        source_add("credit_report", customer=customer, by=rm1, **report(outstanding_debt=Decimal("-1")))
    assert not CreditReport.objects.exists()
    assert not Grade.objects.exists()


def test_zero_assets_gives_no_ratio_instead_of_an_error(customer, rm1):
    source_add("financial_statement", customer=customer, by=rm1, **statement(total_assets=0, current_liabilities=0))
    customer.refresh_from_db()
    assert customer.debt_ratio is None
    assert customer.current_ratio is None
