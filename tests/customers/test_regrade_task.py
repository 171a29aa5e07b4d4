from datetime import timedelta

import pytest
import time_machine

from crm.locks import job_lock
from customers.models import Grade
from customers.tasks import portfolio_regrade
from tests.crm.test_celery_worker import wait_for

pytestmark = pytest.mark.django_db


def test_task_regrades_and_a_second_run_writes_nothing(graded_customer):
    first = portfolio_regrade()
    assert (first["skipped"], first["written"], first["grades"]) == (False, 1, 1)
    second = portfolio_regrade()
    assert (second["written"], second["grades"]) == (0, 0)
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"


def test_overlapping_run_skips_while_the_lock_is_held(graded_customer):
    with job_lock("portfolio_regrade", ttl=timedelta(hours=1)) as mine:
        assert mine
        assert portfolio_regrade() == {"skipped": True}
    assert not Grade.objects.exists()
    assert portfolio_regrade()["skipped"] is False


def test_a_lock_left_by_a_killed_worker_expires(graded_customer):
    with time_machine.travel("2026-06-01 02:30 +0800", tick=False) as traveller:
        lock = job_lock("portfolio_regrade", ttl=timedelta(hours=1))
        assert lock.__enter__() is True  # never released: the worker died
        assert portfolio_regrade() == {"skipped": True}
        traveller.shift(timedelta(hours=1, seconds=1))
        assert portfolio_regrade()["skipped"] is False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_regrade_runs_through_a_real_worker(celery_worker, graded_customer):
    portfolio_regrade.delay()
    assert wait_for(lambda: Grade.objects.filter(customer=graded_customer).exists())
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"
