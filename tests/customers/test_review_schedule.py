"""The one rule for next_review_date (customers.review_schedule), run in the database as the
re-grade and the watch list run it."""

import datetime

import pytest
from django.db import connection

from crm.sql import Dialect, Params
from customers.models import Customer
from customers.review_schedule import next_review_sql, scheduled_review_sql
from customers.tier_policies import policies_by_tier
from tests.factories import CustomerFactory

JAN, MAR = datetime.date(2025, 1, 10), datetime.date(2025, 3, 1)


def next_review(watch: datetime.date | None, scheduled: datetime.date | None):
    p = Params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {next_review_sql(watch=p.add(watch), scheduled=p.add(scheduled))}", p)
        value = cursor.fetchone()[0]
    return value if value is None or isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("watch", "scheduled", "due"),
    [
        (JAN, MAR, JAN),  # the watch list asks for a review sooner than the schedule
        (MAR, JAN, JAN),  # the schedule is sooner: the watch date does not push it later
        (None, MAR, MAR),  # not on the watch list
        (JAN, None, None),  # no regular date (never reviewed, no policy): none, as both jobs write
    ],
)
def test_the_next_review_is_the_sooner_of_the_watch_and_the_regular_date(watch, scheduled, due):
    assert next_review(watch, scheduled) == due


@pytest.mark.django_db
def test_the_regular_review_is_the_last_review_plus_the_tiers_interval():
    policies = policies_by_tier()
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(tier="A", last_review_date=JAN)
    p = Params()
    scheduled = scheduled_review_sql(
        Dialect(connection.vendor), p, policies, last_review="c.last_review_date", tier="c.tier"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {scheduled} FROM {Customer._meta.db_table} c WHERE c.id = {p.add(customer.pk)}", p)  # noqa: S608
        value = cursor.fetchone()[0]
    due = JAN + datetime.timedelta(days=policies["A"].review_interval_days)
    assert str(value) == due.isoformat()
