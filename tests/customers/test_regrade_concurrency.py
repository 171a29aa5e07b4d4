"""Two re-grades of the whole portfolio at the same moment (no lock taken, on purpose): each
customer's grade is written once and its history row appended once.

The overlap is made certain: the first run is paused inside its first batch, its rows rewritten
but not committed, until the second run is seen queued behind them (PostgreSQL: on the first
run's row locks; SQLite: at ``BEGIN IMMEDIATE``, the database write lock). The second run then
finds those rows already up to date and writes them no second time."""

import threading

import pytest
from django.db import connections, transaction

from customers import regrade as regrade_module
from customers.models import Customer, Grade, GradeReason
from customers.regrade import regrade
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_simultaneous_runs_write_each_grade_once(rm1, lock_waiters, monkeypatch):
    for i in range(60):
        CustomerFactory(
            owner=rm1,
            team=rm1.team,
            registered_capital=10_000_000 * (i + 1),
            industry_position="major",
            bureau_rating="A",
            has_litigation=False,
            overdue_count=i % 3,
            debt_ratio="0.6",
            current_ratio="1.2",
            project_amount="80000000",
            cooperation_since="2020-01-01",
        )
    real_batch = regrade_module.regrade_batch
    first_batch = threading.Lock()
    paused, carry_on = threading.Event(), threading.Event()

    def batch_then_pause(**kwargs):
        if not first_batch.acquire(blocking=False):
            return real_batch(**kwargs)
        with transaction.atomic():  # only the first batch of the first run stays uncommitted
            result = real_batch(**kwargs)
            paused.set()
            carry_on.wait(20)
        return result

    monkeypatch.setattr(regrade_module, "regrade_batch", batch_then_pause)
    results, errors = [], []

    def run():
        try:
            results.append(regrade(reason=GradeReason.SCHEDULED, batch_size=7))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    first, second = threading.Thread(target=run), threading.Thread(target=run)
    try:
        first.start()
        assert paused.wait(20), "the first run never reached its first batch"
        second.start()
        lock_waiters.wait(1)
        assert not Grade.objects.exists()  # the first run's batch is not committed yet
    finally:
        lock_waiters.letting_go()
        carry_on.set()
        first.join(60)
        second.join(60)
    assert not first.is_alive() and not second.is_alive()
    lock_waiters.assert_waited()

    assert not errors, errors
    assert sum(r.grades for r in results) == 60
    assert Grade.objects.count() == 60
    assert Grade.objects.values("customer").distinct().count() == 60
    assert not Customer.objects.filter(graded_at__isnull=True).exists()
