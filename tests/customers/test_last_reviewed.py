"""'Last reviewed' on the customer page: "Never" until someone records a review."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from customers.regrade import regrade

pytestmark = pytest.mark.django_db


def last_reviewed(client, customer) -> str:
    page = client.get(reverse("customers:detail", args=[customer.code])).content.decode()
    return re.search(r'data-testid="last-reviewed">(.*?)</dd>', page, re.S).group(1).strip()


def test_a_new_customer_was_never_reviewed(client, rm1, graded_customer):
    regrade(reason="scheduled")
    client.force_login(rm1)

    assert last_reviewed(client, graded_customer) == "Never"


def test_recording_a_review_shows_its_day(client, rm1, graded_customer):
    regrade(reason="scheduled")
    client.force_login(rm1)

    client.post(reverse("customers:review", args=[graded_customer.code]))

    graded_customer.refresh_from_db()
    assert graded_customer.reviewed_on == timezone.localdate()
    assert last_reviewed(client, graded_customer) == date_format(timezone.localdate(), "SHORT_DATE_FORMAT")


def test_never_is_translated(client, rm1, graded_customer):
    regrade(reason="scheduled")
    client.force_login(rm1)
    client.cookies["django_language"] = "zh-hans"

    with translation.override("zh-hans"):  # the middleware switches the thread: switch it back after
        assert last_reviewed(client, graded_customer) == "从未"
