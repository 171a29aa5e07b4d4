"""The portfolio re-grade as a job: split into id-range batches, each its own job, the whole
done when the last batch is; held to one run at a time by a short lease."""

from datetime import timedelta

import pytest
import time_machine

from crm.jobs.leases import lease_take
from crm.models import Job, JobStatus
from customers.models import Customer, Grade
from customers.tasks import portfolio_regrade
from tests.conftest import lease_held, wait_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_task_regrades_in_batches_and_a_second_run_writes_nothing(graded_customer, settings):
    settings.REGRADE_BATCH_SIZE = 2
    others = CustomerFactory.create_batch(4, owner=graded_customer.owner, team=graded_customer.team)
    assert portfolio_regrade() == {"batches": 3}
    run = Job.objects.get(task="customers.tasks.portfolio_regrade")
    assert (run.status, run.batches_total, run.batches_done) == (JobStatus.DONE, 3, 3)
    assert run.batches.filter(status=JobStatus.DONE).count() == 3
    # The four others have no inputs: graded Unrated as they were, so no grade row (history shows changes).
    assert sum(b.result["grades"] for b in run.batches.all()) == 1
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"
    assert all(c.scorecard_id for c in Customer.objects.filter(pk__in=[o.pk for o in others]))
    portfolio_regrade()
    again = Job.objects.filter(task="customers.tasks.portfolio_regrade").first()
    assert sum(b.result["written"] for b in again.batches.all()) == 0
    assert Grade.objects.count() == 1


def test_overlapping_run_skips_while_the_lease_is_held(graded_customer):
    with lease_held("portfolio_regrade"):
        assert portfolio_regrade() == {"skipped": True}
    assert not Grade.objects.exists()
    assert "skipped" not in portfolio_regrade()
    assert Grade.objects.filter(customer=graded_customer).exists()


def test_a_lease_left_by_a_killed_worker_runs_out_within_a_minute(graded_customer, settings):
    with time_machine.travel("2026-06-01 02:30 +0800", tick=False) as traveller:
        assert lease_take("portfolio_regrade", holder="a-worker-that-died")  # never released
        assert portfolio_regrade() == {"skipped": True}
        traveller.shift(timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1))
        assert "skipped" not in portfolio_regrade()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_regrade_runs_through_a_real_worker(celery_worker, graded_customer):
    portfolio_regrade.delay()
    assert wait_for(lambda: Grade.objects.filter(customer=graded_customer).exists())
    assert wait_for(lambda: Job.objects.filter(parent__isnull=True, status=JobStatus.DONE).exists())
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"
