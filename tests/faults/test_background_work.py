"""Background work under the faults production meets, with real processes: Redis killed and
restarted (it keeps nothing on disk, like the shared one), a worker killed outright, a
database connection cut mid-batch, a worker started before the broker. Each time the
portfolio ends re-graded by the new scorecard with no one doing anything, every customer
graded once."""

import psycopg
import pytest
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from crm.jobs import job_request
from crm.models import Job, JobLock, JobStatus
from customers import tasks
from customers.models import Band, Customer, Grade, GradeReason, Scorecard
from customers.regrade import regrade
from customers.services import scorecard_copy, scorecard_publish
from tests.conftest import database_url, wait_until
from tests.factories import CustomerFactory, graded_inputs

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CUSTOMERS = 6_000  # 40 batches of 150 (REGRADE_BATCH_SIZE in the workers' environment)


@pytest.fixture
def portfolio(faults, rm1):
    """CUSTOMERS graded customers of rm1, and beat reduced to the outbox sweep."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="Send waiting background jobs",
        defaults={"task": "crm.tasks.jobs_sweep", "interval": every, "expire_seconds": 10, "enabled": True},
    )
    PeriodicTask.objects.exclude(task="crm.tasks.jobs_sweep").update(enabled=False)
    Customer.objects.bulk_create(
        CustomerFactory.build_batch(CUSTOMERS, owner=rm1, team=rm1.team, **graded_inputs()), batch_size=2000
    )
    regrade(reason=GradeReason.SCHEDULED)
    Grade.objects.all().delete()  # only the publication's grades are counted below
    return Customer.objects.all()


def new_card(by) -> Scorecard:
    """A copy of the active card giving half the points: every customer's score changes, so
    each gets exactly one grade row from the publication (history records real changes only)."""
    card = scorecard_copy(scorecard=Scorecard.objects.get(status="active"), by=by)
    Band.objects.filter(criterion__scorecard=card).update(points=F("points") / 2)
    Scorecard.objects.filter(pk=card.pk).update(cutoff_aa=card.cutoff_aa / 2, cutoff_a=card.cutoff_a / 2)
    card.refresh_from_db()
    return card


def everyone_on(card: Scorecard) -> bool:
    return not Customer.objects.exclude(scorecard=card).exists()


def assert_graded_once_by(card: Scorecard) -> None:
    job = Job.objects.get(pk=card.regrade_job_id)
    assert job.status == JobStatus.DONE
    assert job.batches_done == job.batches_total == CUSTOMERS // 150
    assert not job.batches.exclude(status=JobStatus.DONE).exists()
    published = Grade.objects.filter(reason=GradeReason.SCORECARD_PUBLISHED, scorecard=card)
    assert published.count() == CUSTOMERS
    assert not published.values("customer").annotate(n=Count("id")).filter(n__gt=1).exists()
    held = JobLock.objects.exclude(holder="").filter(locked_until__gt=timezone.now())
    assert not held.exists(), f"a lease is still held: {list(held.values('name', 'holder'))}"


def test_a_publish_while_redis_is_down_regrades_everyone_once_it_is_back(faults, portfolio, admin_user):
    faults.redis.start()
    worker = faults.worker()
    faults.redis.kill()
    card = new_card(admin_user)
    scorecard_publish(scorecard=card, by=admin_user)
    job = Job.objects.get(pk=Scorecard.objects.get(pk=card.pk).regrade_job_id)
    assert job.status == JobStatus.PENDING and job.last_error  # asked for, kept, not sent
    faults.redis.start()  # empty: nothing survived
    wait_until(lambda: everyone_on(card), seconds=120, what="portfolio re-graded after Redis came back")
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.DONE, seconds=20, what="job done")
    assert worker.alive(), "the worker gave up while Redis was down"
    assert_graded_once_by(Scorecard.objects.get(pk=card.pk))


def test_a_worker_killed_mid_regrade_is_replaced_and_the_regrade_completes(faults, portfolio, admin_user):
    faults.redis.start()
    worker = faults.worker()
    card = new_card(admin_user)
    scorecard_publish(scorecard=card, by=admin_user)
    job_id = Scorecard.objects.get(pk=card.pk).regrade_job_id
    wait_until(lambda: Job.objects.get(pk=job_id).batches_done >= 10, seconds=60, what="ten batches done")
    worker.kill()  # SIGKILL to the group: the batch in hand dies half-way
    assert Job.objects.get(pk=job_id).batches_done < CUSTOMERS // 150
    faults.worker()
    wait_until(lambda: everyone_on(card), seconds=120, what="portfolio re-graded by the second worker")
    wait_until(lambda: Job.objects.get(pk=job_id).status == JobStatus.DONE, seconds=20, what="job done")
    assert_graded_once_by(Scorecard.objects.get(pk=card.pk))


def test_a_batch_whose_database_connection_is_cut_is_retried(faults, portfolio, admin_user):
    faults.redis.start()
    faults.worker()
    middle = portfolio.order_by("id").values_list("id", flat=True)[CUSTOMERS // 2]
    with psycopg.connect(database_url(), autocommit=False) as blocker:
        # Hold one customer's row: the batch that reaches it waits on the lock, mid-batch.
        blocker.execute("SELECT id FROM customers_customer WHERE id = %s FOR UPDATE", [middle])
        card = new_card(admin_user)
        scorecard_publish(scorecard=card, by=admin_user)

        def waiting_backend():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query ILIKE '%%UPDATE customers_customer AS c%%'"
                )
                row = cursor.fetchone()
            return row[0] if row else None

        wait_until(lambda: waiting_backend() is not None, seconds=60, what="a batch waiting on the held row")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [waiting_backend()])
        blocker.rollback()
    wait_until(lambda: everyone_on(card), seconds=120, what="portfolio re-graded after the retry")
    parent_id = Scorecard.objects.get(pk=card.pk).regrade_job_id

    def batch() -> Job:
        return Job.objects.get(parent_id=parent_id, kwargs__lo__lte=middle, kwargs__hi__gt=middle)

    # The batch's customers commit with its body; the batch itself is marked done just after,
    # in its own transaction (crm.jobs.runner._finish).
    wait_until(lambda: batch().status == JobStatus.DONE, seconds=20, what="the retried batch done")
    assert batch().runs == 2
    wait_until(lambda: Job.objects.get(pk=parent_id).status == JobStatus.DONE, seconds=20, what="job done")
    assert_graded_once_by(Scorecard.objects.get(pk=card.pk))


def test_a_worker_started_before_redis_connects_when_it_comes(faults, rm1, manager):
    worker = faults.worker()
    wait_until(
        lambda: "Cannot connect to redis" in worker.log.read_text(errors="replace"), seconds=30, what="worker trying"
    )
    assert worker.alive(), "the worker exited instead of waiting for the broker"
    faults.redis.start()
    customer = CustomerFactory(owner=rm1, team=rm1.team)
    job = job_request(tasks.customer_created_notify, customer_id=customer.pk, created_by_id=rm1.pk)
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.DONE, seconds=60, what="notice sent")
    assert Job.objects.get(pk=job.pk).result == 1  # one manager mailed
