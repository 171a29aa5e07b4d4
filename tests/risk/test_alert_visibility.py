"""Alerts carry their customer's owner and team (database triggers, migration risk/0006): the
copy decides who sees an alert, so it must follow the customer by every route."""

import pytest

from customers.models import Customer
from risk.access import alerts_for
from tests.factories import AlertFactory, AlertRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(customer):
    return AlertFactory(customer=customer, rule=AlertRuleFactory(name="Downgrade", severity="critical"))


def test_an_inserted_alert_gets_its_customers_owner_and_team(alert, customer):
    alert.refresh_from_db()
    assert (alert.owner_id, alert.team_id) == (customer.owner_id, customer.team_id)


def test_rm_sees_own_customers_alert_and_teammate_does_not(alert, rm1, rm2, manager, rm_west, risk_officer):
    assert list(alerts_for(rm1)) == [alert]
    assert list(alerts_for(manager)) == [alert]
    assert list(alerts_for(risk_officer)) == [alert]
    assert not alerts_for(rm2).exists()
    assert not alerts_for(rm_west).exists()


def test_alerts_follow_the_customer_to_another_rm_and_team(alert, customer, rm1, rm_west):
    # A bulk UPDATE, as an import or the admin's reassignment would write it.
    Customer.objects.filter(pk=customer.pk).update(owner=rm_west, team=rm_west.team)
    alert.refresh_from_db()
    assert (alert.owner_id, alert.team_id) == (rm_west.pk, rm_west.team_id)
    assert list(alerts_for(rm_west)) == [alert]
    assert not alerts_for(rm1).exists()


def test_other_customers_and_other_columns_leave_alerts_alone(alert, customer, other_customer, rm_west):
    Customer.objects.filter(pk=other_customer.pk).update(owner=rm_west, team=rm_west.team)
    Customer.objects.filter(pk=customer.pk).update(name="改名后的客户有限公司", tier="B")
    alert.refresh_from_db()
    assert (alert.owner_id, alert.team_id) == (customer.owner_id, customer.team_id)
