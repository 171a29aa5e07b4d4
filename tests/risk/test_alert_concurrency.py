"""Two alert evaluations at the same moment, on two real database connections, over the same
many bad customers: each customer gets exactly one alert per rule, with one ``opened`` event.

The overlap is made certain, not hoped for:
- mid-way: the first run is paused inside its first batch — condition rows inserted and locked,
  the customers judged "turning bad", its alerts not yet committed — and the second run is
  started and seen waiting on it (PostgreSQL: on the first run's uncommitted condition rows;
  SQLite: at ``BEGIN IMMEDIATE``, the database write lock) before the first is let go;
- behind a lock: customers that were bad once and recovered have condition rows; the test holds
  those rows (``SELECT … FOR UPDATE``; SQLite: an open write transaction) until both runs are
  queued behind them, then lets both loose at once.
Either way the waiting is seen (the ``lock_waiters`` fixture), not assumed after a pause.
The second run in must read the conditions the first one committed and raise nothing."""

import dataclasses
import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.models import Customer
from risk.alerts import KINDS, evaluate
from risk.alerts import evaluation as evaluation_module
from risk.models import (
    Alert,
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertRule,
    AlertSeverity,
    AlertStatus,
)
from tests.factories import AlertRuleFactory, CustomerFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CUSTOMERS = 60
BATCH = 25  # three batches per rule: the runs meet in more than one


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(evaluation_module, "BATCH_SIZE", BATCH)


@pytest.fixture
def rules(db):
    return [
        AlertRuleFactory(name="Review overdue", kind=AlertKind.REVIEW_OVERDUE, severity=AlertSeverity.INFO),
        AlertRuleFactory(name="Debt ratio", kind=AlertKind.DEBT_RATIO_HIGH, severity=AlertSeverity.WARNING),
    ]


@pytest.fixture
def bad_customers(rm1) -> list[Customer]:
    """Customers in the bad state of both rules: review a week overdue, debt ratio 0.90."""
    overdue = timezone.localdate() - datetime.timedelta(days=7)
    return [
        CustomerFactory(owner=rm1, team=rm1.team, next_review_date=overdue, debt_ratio=Decimal("0.9000"))
        for _ in range(CUSTOMERS)
    ]


def run_in_thread(outcome: dict, name: str) -> threading.Thread:
    def run():
        try:
            outcome[name] = evaluate()
        except Exception as exc:  # judged by the test
            outcome[name] = exc
        finally:
            connections.close_all()

    return threading.Thread(target=run, name=name)


def assert_one_alert_per_customer_and_rule(customers: list[Customer], rules: list[AlertRule]) -> None:
    open_alerts = Alert.objects.filter(status=AlertStatus.OPEN)
    assert open_alerts.count() == len(customers) * len(rules)
    for rule in rules:
        assert set(open_alerts.filter(rule=rule).values_list("customer_id", flat=True)) == {c.pk for c in customers}
    opened = AlertEvent.objects.filter(kind=AlertEventKind.OPENED, alert__in=open_alerts)
    assert opened.count() == len(customers) * len(rules)
    assert opened.values("alert").distinct().count() == len(customers) * len(rules)
    # The loser saw the conditions already bad: it neither raised nor noted a "seen again".
    assert not AlertEvent.objects.filter(kind=AlertEventKind.SEEN_AGAIN).exists()
    assert AlertCondition.objects.filter(is_bad=True).count() == len(customers) * len(rules)


def test_a_second_run_started_while_the_first_is_mid_batch_raises_nothing_twice(
    bad_customers, rules, lock_waiters, monkeypatch
):
    # "Debt ratio" is the first rule by name, so the first run stops in its first batch of all.
    assert AlertRule.objects.filter(enabled=True).first() == rules[1]
    kind = KINDS[AlertKind.DEBT_RATIO_HIGH]
    paused, carry_on = threading.Event(), threading.Event()
    first_call = threading.Lock()

    def observe_then_pause(ids, params, today):
        observed = kind.observe(ids, params, today)
        if first_call.acquire(blocking=False):  # only the first batch of the first run stops here
            paused.set()
            carry_on.wait(20)
        return observed

    monkeypatch.setitem(KINDS, AlertKind.DEBT_RATIO_HIGH, dataclasses.replace(kind, observe=observe_then_pause))
    outcome: dict = {}
    first, second = run_in_thread(outcome, "first"), run_in_thread(outcome, "second")
    try:
        first.start()
        assert paused.wait(20), "the first run never reached its first batch"
        second.start()
        lock_waiters.wait(1)
        assert not Alert.objects.exists()  # the first run's alerts are not committed yet
    finally:
        lock_waiters.letting_go()
        carry_on.set()
        first.join(60)
        second.join(60)
    assert not first.is_alive() and not second.is_alive()
    lock_waiters.assert_waited()

    assert not any(isinstance(result, Exception) for result in outcome.values()), outcome
    assert outcome["first"]["raised"] >= BATCH  # the batch it was paused in was its own
    assert outcome["first"]["raised"] + outcome["second"]["raised"] == CUSTOMERS * len(rules)
    assert outcome["first"]["seen_again"] == outcome["second"]["seen_again"] == 0
    assert_one_alert_per_customer_and_rule(bad_customers, rules)


def hold_conditions(rules: list[AlertRule]) -> None:
    """Inside an open transaction of the test thread, take what both runs will need. On SQLite,
    transaction.atomic() already issued BEGIN IMMEDIATE: the test holds the write lock."""
    if connection.vendor == "postgresql":
        held = list(AlertCondition.objects.select_for_update().filter(rule__in=rules).values_list("pk", flat=True))
        assert len(held) == CUSTOMERS * len(rules)


def test_two_runs_let_loose_at_once_on_relapsed_customers_raise_each_alert_once(
    bad_customers, rules, lock_waiters, risk_officer
):
    """The customers were bad before (alerts resolved, conditions back to good): both runs find
    the condition rows there and queue on them, then race for them."""
    evaluate()
    Alert.objects.update(status=AlertStatus.RESOLVED, resolved_at=timezone.now(), resolved_note="Reviewed.")
    AlertCondition.objects.update(is_bad=False)
    earlier = set(Alert.objects.values_list("pk", flat=True))

    outcome: dict = {}
    runs = [run_in_thread(outcome, "one"), run_in_thread(outcome, "two")]
    with transaction.atomic():
        hold_conditions(rules)
        for run in runs:
            run.start()
        lock_waiters.wait(len(runs))
        assert not Alert.objects.exclude(pk__in=earlier).exists()
        lock_waiters.letting_go()
    for run in runs:
        run.join(60)
    assert not any(run.is_alive() for run in runs)
    lock_waiters.assert_waited()

    assert not any(isinstance(result, Exception) for result in outcome.values()), outcome
    assert outcome["one"]["raised"] + outcome["two"]["raised"] == CUSTOMERS * len(rules)
    assert Alert.objects.filter(status=AlertStatus.RESOLVED).count() == CUSTOMERS * len(rules)
    assert_one_alert_per_customer_and_rule(bad_customers, rules)
