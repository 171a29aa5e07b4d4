from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app
from customers.exchange import pending
from customers.models import PendingUpload
from customers.tasks import pending_uploads_purge
from tests.conftest import lease_held, wait_for

pytestmark = pytest.mark.django_db

KIND = "customer_import"


@pytest.fixture
def expired_and_fresh(rm1) -> PendingUpload:
    """One upload kept just over KEEP_FOR ago, one just now; returns the fresh one."""
    with time_machine.travel(timezone.now() - PendingUpload.KEEP_FOR - timedelta(seconds=1), tick=False):
        pending.keep(owner=rm1, kind=KIND, data=b"expired", meta={})
    token = pending.keep(owner=rm1, kind=KIND, data=b"fresh", meta={})
    return PendingUpload.objects.get(code=token)


def test_it_deletes_the_expired_uploads_only(expired_and_fresh):
    assert pending_uploads_purge() == {"deleted": 1}
    assert list(PendingUpload.objects.all()) == [expired_and_fresh]
    assert pending_uploads_purge() == {"deleted": 0}


def test_an_overlapping_run_skips_while_the_lock_is_held(expired_and_fresh):
    with lease_held("pending_uploads_purge"):
        assert pending_uploads_purge() == {"skipped": True}
    assert PendingUpload.objects.count() == 2
    assert pending_uploads_purge()["deleted"] == 1


def test_beat_runs_it_every_hour():
    """Shipped by migration (customers 0008), editable in admin like the other schedules."""
    periodic = PeriodicTask.objects.get(task="customers.tasks.pending_uploads_purge")
    assert periodic.enabled
    assert (periodic.crontab.minute, periodic.crontab.hour, periodic.crontab.day_of_week) == ("40", "*", "*")
    assert periodic.task in celery_app.tasks


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_runs_through_a_real_worker(celery_worker, expired_and_fresh):
    pending_uploads_purge.delay()
    wait_for(lambda: PendingUpload.objects.count() <= 1)
    assert list(PendingUpload.objects.all()) == [expired_and_fresh]
