"""Escalation of critical alerts left open past their rule's hours (risk.services.escalation)."""

import datetime

import pytest
import time_machine

from crm.roles import Role
from risk.models import Alert, AlertEvent, AlertEventKind, AlertKind, AlertRule, AlertSeverity
from risk.services import alert_acknowledge, alerts_escalate
from risk.services.escalation import _escalate_one
from tests.factories import AlertFactory, AlertRuleFactory, CustomerFactory, make_user

OPENED = datetime.datetime(2025, 6, 2, 1, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def clock():
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


def rule(hours: int | None = 24, severity=AlertSeverity.CRITICAL) -> AlertRule:
    return AlertRuleFactory(kind=AlertKind.LIMIT_BREACH, severity=severity, escalate_after_hours=hours)


def raise_alert(customer, rule: AlertRule) -> Alert:
    """Raised now (the clock's time), as evaluation would."""
    return AlertFactory(customer=customer, rule=rule)


def escalation_of(alert: Alert) -> tuple:
    return Alert.objects.values_list("escalated_at", "escalated_to").get(pk=alert.pk)


@pytest.fixture
def critical(clock, customer, manager):
    return raise_alert(customer, rule(hours=24))


def test_not_escalated_before_its_rules_hours(critical, clock):
    clock.shift(24 * HOUR)  # exactly 24 hours: not yet more than
    assert alerts_escalate() == {"escalated": 0, "without_manager": 0}
    assert escalation_of(critical) == (None, None)


def test_escalated_to_the_team_manager_just_after_its_rules_hours(critical, clock, manager):
    clock.shift(24 * HOUR + SECOND)
    assert alerts_escalate() == {"escalated": 1, "without_manager": 0}
    assert escalation_of(critical) == (OPENED + 24 * HOUR + SECOND, manager.pk)
    event = AlertEvent.objects.get(alert=critical)
    assert event.kind == AlertEventKind.ESCALATED
    assert event.by is None  # the system
    assert str(manager) in event.note
    assert event.at == OPENED + 24 * HOUR + SECOND


def test_escalated_once_only(critical, clock):
    clock.shift(25 * HOUR)
    alerts_escalate()
    clock.shift(24 * HOUR)
    assert alerts_escalate()["escalated"] == 0
    assert escalation_of(critical)[0] == OPENED + 25 * HOUR
    assert AlertEvent.objects.filter(alert=critical, kind=AlertEventKind.ESCALATED).count() == 1


def test_acknowledged_alert_is_never_escalated(critical, clock, rm1):
    clock.shift(2 * HOUR)
    alert_acknowledge(alert=critical, by=rm1)
    clock.shift(100 * HOUR)
    assert alerts_escalate()["escalated"] == 0
    assert escalation_of(critical) == (None, None)


def test_rule_without_hours_never_escalates(clock, customer, manager):
    alert = raise_alert(customer, rule(hours=None))
    clock.shift(1000 * HOUR)
    assert alerts_escalate()["escalated"] == 0
    assert escalation_of(alert) == (None, None)


def test_warning_alert_is_not_escalated(clock, customer, manager):
    alert = raise_alert(customer, rule(hours=1, severity=AlertSeverity.WARNING))
    clock.shift(5 * HOUR)
    assert alerts_escalate()["escalated"] == 0
    assert escalation_of(alert) == (None, None)


def test_each_rule_has_its_own_hours(clock, customer, other_customer, manager):
    fast = raise_alert(customer, rule(hours=2))
    slow = raise_alert(other_customer, rule(hours=48))
    clock.shift(3 * HOUR)
    assert alerts_escalate()["escalated"] == 1
    assert escalation_of(fast)[1] == manager.pk
    assert escalation_of(slow) == (None, None)


def test_goes_to_the_first_active_manager_of_the_customers_own_team(clock, team, other_team, west_customer):
    make_user(Role.TEAM_MANAGER, team=team, username="a_east_manager")
    make_user(Role.TEAM_MANAGER, team=other_team, username="b_west_manager")
    west_first = make_user(Role.TEAM_MANAGER, team=other_team, username="c_west_manager")
    make_user(Role.TEAM_MANAGER, team=other_team, username="a_west_retired", is_active=False)
    make_user(Role.RELATIONSHIP_MANAGER, team=other_team, username="a_west_rm")
    west_first.username = "a_west_boss"
    west_first.save(update_fields=["username"])
    alert = raise_alert(west_customer, rule(hours=1))
    clock.shift(2 * HOUR)
    alerts_escalate()
    assert escalation_of(alert)[1] == west_first.pk


def test_team_without_manager_still_records_the_escalation(clock, customer):
    alert = raise_alert(customer, rule(hours=1))  # no `manager` fixture: the team has none
    clock.shift(2 * HOUR)
    assert alerts_escalate() == {"escalated": 1, "without_manager": 1}
    assert escalation_of(alert) == (OPENED + 2 * HOUR, None)
    assert AlertEvent.objects.get(alert=alert).note == "Escalated, but the customer's team has no active team manager."


def test_a_claim_lost_to_another_worker_or_an_acknowledgement_changes_nothing(critical, clock, manager, rm1):
    """The compare-and-set behind each escalation: whoever wrote first stands, and only the
    winner records an event (the job reads its candidates before it writes)."""
    clock.shift(30 * HOUR)
    now = OPENED + 30 * HOUR
    assert _escalate_one(critical.pk, manager, now) is True
    assert _escalate_one(critical.pk, None, now + HOUR) is False  # a second worker, a moment later
    assert escalation_of(critical) == (now, manager.pk)
    assert AlertEvent.objects.filter(alert=critical).count() == 1

    other = raise_alert(critical.customer, rule(hours=1))
    alert_acknowledge(alert=other, by=rm1)
    assert _escalate_one(other.pk, manager, now) is False
    assert escalation_of(other) == (None, None)


def test_many_alerts_are_escalated_in_batches(clock, rm1, manager):
    r = rule(hours=1)
    alerts = [raise_alert(CustomerFactory(owner=rm1, team=rm1.team), r) for _ in range(7)]
    clock.shift(2 * HOUR)
    assert alerts_escalate(batch_size=3)["escalated"] == 7
    assert all(escalation_of(a)[1] == manager.pk for a in alerts)
