"""The grade history gets a row only when what it shows changed: tier, computed tier or score."""

from decimal import Decimal

import pytest
from django.urls import reverse

from customers.admin_scoring import GradeAdmin
from customers.models import Grade, GradeReason
from customers.regrade import regrade
from tests.factories import GRADEABLE, CustomerFactory, set_customer

pytestmark = pytest.mark.django_db


def history(client, customer) -> str:
    page = client.get(reverse("customers:detail", args=[customer.code])).content.decode()
    return page.split('data-testid="grade-history"', 1)[1].split("</ol>", 1)[0]


def test_it_writes_no_row_for_a_new_customer_who_stays_unrated(client, rm1):
    customer = CustomerFactory(owner=rm1, team=rm1.team)  # no bureau report, statements, ...

    regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])

    customer.refresh_from_db()
    assert customer.tier == "unrated" and customer.scorecard is not None  # graded all the same
    assert not Grade.objects.filter(customer=customer).exists()
    client.force_login(rm1)
    assert "Not graded yet." in history(client, customer)


def test_it_writes_no_row_when_an_unrated_customers_points_change_but_not_the_tier(client, rm1):
    customer = CustomerFactory(owner=rm1, team=rm1.team)
    regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
    customer.refresh_from_db()
    assert customer.breakdown["debt_ratio"] is None

    set_customer(customer, debt_ratio=Decimal("0.45"))
    result = regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])

    customer.refresh_from_db()
    assert customer.breakdown["debt_ratio"] is not None  # kept current on the customer
    assert customer.tier == "unrated"
    assert (result.written, result.grades) == (1, 0)
    assert not Grade.objects.filter(customer=customer).exists()


def test_it_writes_a_row_when_the_tier_changes_and_shows_from_and_to(client, rm1, graded_customer):
    regrade(reason=GradeReason.DATA_CHANGED, ids=[graded_customer.pk])
    set_customer(graded_customer, bureau_rating="B", overdue_count=5, debt_ratio=Decimal("0.9"))

    regrade(reason=GradeReason.DATA_CHANGED, ids=[graded_customer.pk])

    latest = Grade.objects.filter(customer=graded_customer).first()
    assert latest.previous_tier == "AA" and latest.tier in ("A", "B")
    assert Grade.objects.filter(customer=graded_customer).count() == 2
    client.force_login(rm1)
    assert "bi-arrow-right" in history(client, graded_customer)


def test_a_row_whose_tier_did_not_change_shows_no_same_tier_arrow(client, rm1, customer):
    # A row as the re-grade wrote it before: from Unrated to Unrated, nothing visible changed.
    Grade.objects.create(
        customer=customer, tier="unrated", computed_tier="unrated", previous_tier="unrated", reason="data_changed"
    )
    client.force_login(rm1)

    assert "bi-arrow-right" not in history(client, customer)


def test_the_admins_grade_list_is_newest_first_and_sorts_by_date_alone(client, admin_user, rm1):
    """The admin's grade list reads the append-only history by id, which is by date; sorting by
    another column would sort all of it, so only the date sorts."""
    first, second = CustomerFactory.create_batch(2, owner=rm1, team=rm1.team, **GRADEABLE)
    regrade(reason=GradeReason.DATA_CHANGED, ids=[first.pk])
    regrade(reason=GradeReason.DATA_CHANGED, ids=[second.pk])
    client.force_login(admin_user)
    url = reverse("admin:customers_grade_changelist")

    def customers_listed(query: str = "") -> list[str]:
        page = client.get(url + query).content.decode()
        assert first.name in page and second.name in page
        return sorted((first.name, second.name), key=page.index)

    assert customers_listed() == [second.name, first.name]
    page = client.get(url).content.decode()
    graded_at = list(GradeAdmin.list_display).index("graded_at") + 1
    assert f"?o={graded_at}" in page  # the date header sorts (oldest first)
    assert "?o=1" not in page and "?o=5" not in page  # customer and score do not
    assert customers_listed(f"?o={graded_at}") == [first.name, second.name]
