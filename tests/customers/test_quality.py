from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer, TierPolicy
from customers.models.customer import SOURCE_DATE_COLUMNS
from customers.quality import SOURCE_DATES, customer_quality, needing_attention
from customers.regrade import active_scorecard
from customers.selectors.overview import quality_counts
from tests.factories import CustomerFactory

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


# --- The SQL rule and the Python rule agree -------------------------------------------------------
DATE_COLUMNS = ("credit_report_date", "statement_date", "funding_need_date")
maybe_date = st.one_of(st.none(), st.integers(0, 800).map(lambda days: TODAY - timedelta(days=days)))
customers_ = st.lists(
    st.fixed_dictionaries(
        {
            "tier": st.sampled_from(["AA", "A", "B", "unrated"]),
            **{column: maybe_date for column in DATE_COLUMNS},
            "bureau_rating": st.sampled_from(["", "AA", None]),
            "debt_ratio": st.sampled_from([None, Decimal("0.5")]),
        }
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=customers_, ages=st.lists(st.integers(30, 700), min_size=4, max_size=4))
def test_the_page_queries_and_the_customer_rule_agree(rm1, rows, ages):
    """needing_attention and the capped counts (SQL, with PostgreSQL's index prefilter on the
    oldest source date) name exactly the customers customer_quality (Python) finds wanting,
    whatever the tiers' ages, the dates (NULL too) and the inputs missing."""
    with transaction.atomic():
        for tier, age in zip(["AA", "A", "B", "unrated"], ages, strict=True):
            TierPolicy.objects.filter(tier=tier).update(max_data_age_days=age)
        for row in rows:
            CustomerFactory(
                owner=rm1,
                team=rm1.team,
                **{k: ("" if v is None and k == "bureau_rating" else v) for k, v in row.items()},
            )
        args = {
            "spec": active_scorecard().spec(),
            "policies": {p.tier: p for p in TierPolicy.objects.all()},
            "today": TODAY,
        }
        everyone = Customer.objects.filter(owner=rm1)
        by_python = {c.pk: customer_quality(c, **args) for c in everyone}
        assert set(needing_attention(everyone, **args).values_list("pk", flat=True)) == {
            pk for pk, quality in by_python.items() if not quality.ok
        }
        counts = quality_counts(everyone, **args)
        assert counts.incomplete == sum(not q.complete for q in by_python.values())
        assert counts.stale == sum(bool(q.stale) for q in by_python.values())
        assert counts.needing == sum(not q.ok for q in by_python.values())
        transaction.set_rollback(True)


def test_every_dated_source_is_in_the_oldest_source_index():
    assert set(SOURCE_DATES.values()) <= set(SOURCE_DATE_COLUMNS)
