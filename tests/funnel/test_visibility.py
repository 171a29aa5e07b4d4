"""Deals follow their customer: who may see a customer may see its deals, and nobody else, also
after the customer changes hands by any route (service, admin, bulk update)."""

import pytest
from django.urls import reverse

from customers.access import customers_for
from customers.models import Customer, GradeReason
from customers.regrade import regrade
from customers.services import customer_update
from funnel.access import deals_for
from funnel.models import Deal
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(customer, other_customer, west_customer):
    return [DealFactory(customer=c) for c in (customer, customer, other_customer, west_customer)]


def test_every_user_sees_exactly_the_deals_of_the_customers_they_see(
    deals, rm1, rm2, rm_west, manager, risk_officer, admin_user
):
    for user in (rm1, rm2, rm_west, manager, risk_officer, admin_user):
        expected = set(Deal.objects.filter(customer__in=customers_for(user)).values_list("pk", flat=True))
        assert set(deals_for(user).values_list("pk", flat=True)) == expected, user.username
    assert deals_for(rm1).count() == 2
    assert deals_for(manager).count() == 3


def test_reassigning_the_customer_moves_its_deals(client, customer, deals, rm1, rm_west, admin_user):
    deal = deals[0]
    customer_update(customer=customer, by=admin_user, owner=rm_west)
    deal.refresh_from_db()
    assert (deal.owner, deal.team) == (rm_west, rm_west.team)
    client.force_login(rm1)
    assert client.get(reverse("funnel:detail", args=[deal.code])).status_code == 404
    client.force_login(rm_west)
    assert client.get(reverse("funnel:detail", args=[deal.code])).status_code == 200


def test_a_bulk_update_of_customers_moves_their_deals_too(customer, deals, rm_west):
    Customer.objects.filter(pk=customer.pk).update(owner=rm_west, team=rm_west.team)
    assert set(Deal.objects.filter(customer=customer).values_list("owner", "team")) == {(rm_west.pk, rm_west.team_id)}
    assert deals_for(rm_west).count() == 3


def test_regrading_customers_does_not_touch_deals(customer, deals):
    before = list(Deal.objects.order_by("pk").values_list("pk", "updated_at", "owner", "team"))
    regrade(reason=GradeReason.SCHEDULED)
    assert list(Deal.objects.order_by("pk").values_list("pk", "updated_at", "owner", "team")) == before
