"""Funding a deal makes a prospect an active customer, in the same transaction as the move."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Customer
from funnel.models import Deal, Stage
from funnel.services import Funding
from funnel.signals import deal_funded
from tests.factories import move, set_customer, to_approved

pytestmark = pytest.mark.django_db

FUNDING = Funding(Decimal("1000000"), datetime.date(2026, 7, 1))


def status(customer) -> str:
    return Customer.objects.get(pk=customer.pk).status


def test_it_makes_a_prospect_active_when_its_deal_is_funded(deal, rm1, ready_customer):
    to_approved(deal, rm1)
    assert status(ready_customer) == "prospect"

    move(deal, Stage.FUNDED, rm1, funding=FUNDING)

    assert status(ready_customer) == "active"
    change = Customer.history.filter(id=ready_customer.pk).first()
    assert (change.status, change.history_user) == ("active", rm1)


def test_it_leaves_the_prospect_while_the_deal_is_only_approved(deal, rm1, ready_customer):
    to_approved(deal, rm1)

    assert status(ready_customer) == "prospect"


def test_it_leaves_a_dormant_customer_dormant(deal, rm1, ready_customer):
    to_approved(deal, rm1)
    set_customer(ready_customer, status="dormant")

    move(deal, Stage.FUNDED, rm1, funding=FUNDING)

    assert status(ready_customer) == "dormant"


def test_a_funding_move_that_fails_leaves_the_customer_a_prospect(deal, rm1, ready_customer):
    to_approved(deal, rm1)

    def broken_listener(**kwargs):
        raise RuntimeError("facility could not be opened")

    deal_funded.connect(broken_listener, sender=Deal, weak=False)
    try:
        with pytest.raises(RuntimeError):
            move(deal, Stage.FUNDED, rm1, funding=FUNDING)
    finally:
        deal_funded.disconnect(broken_listener, sender=Deal)

    assert Deal.objects.get(pk=deal.pk).stage == Stage.APPROVED
    assert status(ready_customer) == "prospect"


def test_the_customer_page_shows_active_after_funding(client, deal, rm1, ready_customer):
    to_approved(deal, rm1)
    move(deal, Stage.FUNDED, rm1, funding=FUNDING)
    client.force_login(rm1)

    page = client.get(reverse("customers:detail", args=[ready_customer.code])).content.decode()

    assert '<span class="badge text-bg-light border">Active</span>' in page
