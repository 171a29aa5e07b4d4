"""The outbox and the job runner: work asked for with a change is written with it, sent when it
can be, sent again when lost, run once, retried while another run holds the lease, and shown
on the admin's jobs page."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crm.jobs import job_request, jobs_delayed, jobs_sweep
from crm.models import Job, JobStatus
from customers import tasks
from customers.models import GradeReason
from tests.conftest import broker_at, free_port, lease_held, wait_for

pytestmark = pytest.mark.django_db


def request_notice(customer, by):
    return job_request(tasks.customer_created_notify, customer_id=customer.pk, created_by_id=by.pk)


def test_work_asked_for_in_a_rolled_back_change_is_not_asked_for(customer, rm1):
    with pytest.raises(RuntimeError), transaction.atomic():
        request_notice(customer, rm1)
        raise RuntimeError("the change failed")
    assert not Job.objects.exists()


def test_requests_with_one_key_join_while_the_first_waits(rm1):
    first = job_request(tasks.portfolio_regrade, key="portfolio_regrade", reason=GradeReason.SCHEDULED)
    assert job_request(tasks.portfolio_regrade, key="portfolio_regrade", reason=GradeReason.SCHEDULED) is None
    assert list(Job.objects.values_list("pk", flat=True)) == [first.pk]
    Job.objects.filter(pk=first.pk).update(status=JobStatus.QUEUED)
    assert job_request(tasks.portfolio_regrade, key="portfolio_regrade", reason=GradeReason.SCHEDULED) is not None


def test_the_notice_says_delayed_once_a_send_failed_or_work_waited_too_long(customer, rm1, settings):
    job = Job.objects.create(task="x", status=JobStatus.PENDING)
    assert jobs_delayed() is None  # just asked for: not late
    Job.objects.filter(pk=job.pk).update(sends=1, last_error="refused")
    assert jobs_delayed() == job.created_at
    Job.objects.filter(pk=job.pk).update(sends=0, last_error="")
    later = timezone.now() + timedelta(seconds=settings.JOBS_DELAYED_AFTER + 1)
    assert jobs_delayed(now=later) == job.created_at
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE)
    assert jobs_delayed(now=later) is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sweep_sends_what_waits_and_again_what_was_lost(customer, rm1, settings):
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        job = request_notice(customer, rm1)
        assert jobs_sweep()["sent"] == 0  # still away
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
    assert jobs_sweep()["sent"] == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
    # Queued and never started (a broker that forgot it): sent again after JOBS_REDELIVER_AFTER.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.JOBS_REDELIVER_AFTER + 1)):
        assert jobs_sweep() == {"sent": 1, "waiting": 0, "resent": 1, "purged": 0}
    # Running on a worker that died: its lease runs out and it is sent again.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))
    assert jobs_sweep()["resent"] == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_the_sweep_forgets_finished_jobs_after_the_keep_days(settings):
    old = timezone.now() - timedelta(days=settings.JOBS_KEEP_DAYS + 1)
    Job.objects.create(task="x", status=JobStatus.DONE, finished_at=old)
    recent = Job.objects.create(task="x", status=JobStatus.DONE, finished_at=timezone.now())
    assert jobs_sweep()["purged"] == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [recent.pk]


def test_a_job_that_is_done_is_not_run_again(customer, rm1, manager, mailoutbox):
    job = request_notice(customer, rm1)
    tasks.customer_created_notify.apply(kwargs=job.kwargs, task_id=str(job.code))
    tasks.customer_created_notify.apply(kwargs=job.kwargs, task_id=str(job.code))  # a duplicate message
    job.refresh_from_db()
    assert (job.status, job.runs, job.result) == (JobStatus.DONE, 1, 1)
    assert len(mailoutbox) == 1


def test_a_copy_of_a_running_job_waits_for_its_lease_to_run_out(customer, rm1, manager, mailoutbox, settings):
    job = request_notice(customer, rm1)
    alive = timezone.now() + timedelta(seconds=settings.JOBS_LEASE_SECONDS)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, runs=1, lease_until=alive)
    result = tasks.customer_created_notify.apply(kwargs=job.kwargs, task_id=str(job.code)).get()
    assert result == {"skipped": "done or running elsewhere"} and mailoutbox == []
    # Its worker died: the lease ran out, and the next copy runs it.
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    tasks.customer_created_notify.apply(kwargs=job.kwargs, task_id=str(job.code))
    job.refresh_from_db()
    assert (job.status, job.runs, len(mailoutbox)) == (JobStatus.DONE, 2, 1)


def test_a_failing_job_is_marked_failed_with_its_error_and_admin_sends_it_again(client, admin_user, rm1):
    job = job_request(tasks.customer_created_notify, customer_id="not-an-id", created_by_id=rm1.pk)
    with pytest.raises(ValueError):
        tasks.customer_created_notify.apply(kwargs=job.kwargs, task_id=str(job.code), throw=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "ValueError" in job.last_error
    client.force_login(admin_user)
    page = client.get(reverse("admin:crm_job_changelist"))
    assert page.status_code == 200 and "customer_created_notify" in page.content.decode()
    response = client.post(
        reverse("admin:crm_job_changelist"), {"action": "retry", "_selected_action": [job.pk]}, follow=True
    )
    assert "1 job(s) will be sent again." in response.content.decode()
    job.refresh_from_db()
    assert job.status in (JobStatus.PENDING, JobStatus.QUEUED) and job.last_error == ""


def test_the_jobs_page_shows_a_fanned_out_job_with_its_progress(client, admin_user, graded_customer, settings):
    settings.REGRADE_BATCH_SIZE = 1
    tasks.portfolio_regrade(reason=GradeReason.SCHEDULED)
    client.force_login(admin_user)
    html = client.get(reverse("admin:crm_job_changelist")).content.decode()
    assert "portfolio_regrade" in html and "portfolio_regrade_batch" not in html  # batches on their own page
    assert "1 of 1 batches" in html and '<progress max="1" value="1">' in html


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_requested_job_that_finds_the_lease_held_waits_and_then_runs(celery_worker, graded_customer, settings):
    with lease_held("portfolio_regrade"):  # held for the default minute, whatever the worker's pace
        settings.JOBS_LEASE_SECONDS = 1  # the retry comes a lease term later: a second
        job = job_request(tasks.portfolio_regrade, reason=GradeReason.SCHEDULED)
        assert wait_for(lambda: "waiting for the running" in Job.objects.get(pk=job.pk).last_error)
        assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED  # not acked as done
    assert wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.DONE, seconds=20)
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_notice_the_mail_server_refuses_is_retried_not_lost(celery_worker, customer, rm1, manager, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    job = request_notice(customer, rm1)
    assert wait_for(lambda: Job.objects.get(pk=job.pk).runs >= 2, seconds=20), "not retried"
    job.refresh_from_db()
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and "ConnectionRefusedError" in job.last_error
