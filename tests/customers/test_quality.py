from datetime import date, timedelta

import pytest

from customers.models import Customer, TierPolicy
from customers.quality import customer_quality, needing_attention
from customers.regrade import active_scorecard

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 1)


@pytest.fixture
def quality_args():
    return {
        "spec": active_scorecard().spec(),
        "policies": {p.tier: p for p in TierPolicy.objects.all()},
        "today": TODAY,
    }


def test_a_new_customer_misses_every_sourced_input(customer, quality_args):
    quality = customer_quality(customer, **quality_args)
    assert set(quality.missing) == {
        "bureau_rating",
        "has_litigation",
        "overdue_count",
        "debt_ratio",
        "current_ratio",
        "project_amount",
        "cooperation_years",
    }
    assert not quality.complete
    assert list(needing_attention(Customer.objects.all(), **quality_args)) == [customer]


def test_complete_and_fresh_is_ok_and_old_report_is_stale(customer, quality_args):
    Customer.objects.filter(pk=customer.pk).update(
        bureau_rating="AA",
        has_litigation=False,
        overdue_count=0,
        debt_ratio="0.5",
        current_ratio="1.2",
        project_amount="100000000",
        cooperation_since=date(2020, 1, 1),
        credit_report_date=TODAY - timedelta(days=30),
        statement_date=TODAY - timedelta(days=100),
        funding_need_date=TODAY - timedelta(days=10),
        tier="A",
    )
    customer.refresh_from_db()
    assert customer_quality(customer, **quality_args).ok
    assert not needing_attention(Customer.objects.all(), **quality_args).exists()

    max_age = TierPolicy.objects.get(tier="A").max_data_age_days
    Customer.objects.filter(pk=customer.pk).update(credit_report_date=TODAY - timedelta(days=max_age + 1))
    customer.refresh_from_db()
    quality = customer_quality(customer, **quality_args)
    assert quality.complete and not quality.ok
    assert [s.column for s in quality.stale] == ["credit_report_date"]
    assert list(needing_attention(Customer.objects.all(), **quality_args)) == [customer]
