"""Asking for background work so that nothing asks for it and then loses it (an outbox).

``job_request`` writes a ``Job`` row in the caller's transaction: the work is asked for exactly
when the change that needs it commits, and not at all if it rolls back. After the commit the
row is sent to the broker at once; if the broker refuses or is silent the row stays *pending*
and ``jobs_sweep`` (beat, every few seconds) sends it when the broker is back — nobody has to
do anything. The sweep also sends again what the broker lost (queued and never started) and
what died with its worker (running, lease run out).

Web requests never wait on a broken broker for long: one send attempt is bounded by the
publisher's short timeouts (settings), and after a failed send the next requests do not try
at all for ``BREAKER_SECONDS`` — the sweep will. The "background processing is delayed"
notice comes from this table (``jobs_delayed``), never from Redis."""

import logging
from datetime import datetime, timedelta

from celery import Task
from celery import current_app as celery_app  # the project's app (config.celery)
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.models import Job, JobStatus

log = logging.getLogger(__name__)

BREAKER_SECONDS = 30  # after a failed send, requests leave sending to the sweep this long
SWEEP_BATCH = 500
PURGE_BATCH = 1000


def task_name(task: Task | str) -> str:
    return task if isinstance(task, str) else task.name


def job_request(task: Task | str, *, by=None, key: str = "", **kwargs) -> Job | None:
    """Ask for ``task(**kwargs)`` to run in the background once the current transaction
    commits. With a ``key``, a request that finds one with the same key still waiting to be
    sent joins it (returns None) instead of asking twice."""
    job = Job(task=task_name(task), kwargs=kwargs, key=key, requested_by=by if by and by.pk else None)
    try:
        with transaction.atomic():  # a savepoint: a coalesced key must not break the caller
            job.save()
    except IntegrityError:
        if key and Job.objects.filter(key=key, status=JobStatus.PENDING).exists():
            return None
        raise
    transaction.on_commit(lambda: jobs_send([job.pk], web=True))
    return job


def breaker_open(now: datetime | None = None) -> bool:
    """A send failed moments ago: the broker is probably still away."""
    since = (now or timezone.now()) - timedelta(seconds=BREAKER_SECONDS)
    return Job.objects.filter(status=JobStatus.PENDING, sent_at__gte=since).exclude(last_error="").exists()


def jobs_send(ids: list[int], *, web: bool = False) -> int:
    """Send these pending jobs to the broker; returns how many were sent. A failure leaves the
    row pending with the error, for the sweep. ``web``: called on a request's path, where an
    open breaker means not even trying."""
    if web and breaker_open():
        return 0
    sent = 0
    for job in Job.objects.filter(pk__in=ids, status=JobStatus.PENDING).order_by("pk"):
        now = timezone.now()
        try:
            celery_app.send_task(job.task, kwargs=job.kwargs, task_id=str(job.code))
        except Exception as exc:  # refused, timed out, DNS: whatever the client raises
            log.warning("could not send %s (%s); it waits for the sweep", job, exc)
            Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
                sends=F("sends") + 1, sent_at=now, last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            break  # the broker is away: the rest would fail the same way, slowly
        # Compare-and-set: a fast worker may have started (or finished) it already.
        Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
            status=JobStatus.QUEUED, sends=F("sends") + 1, sent_at=now, last_error=""
        )
        sent += 1
    return sent


def jobs_sweep(*, now: datetime | None = None) -> dict:
    """Send what waits, send again what was lost, forget what finished long ago. Idempotent;
    two sweeps at once at worst send a job twice, which the runner turns into one run."""
    now = now or timezone.now()
    lost_in_broker = Job.objects.filter(
        status=JobStatus.QUEUED, sent_at__lt=now - timedelta(seconds=settings.JOBS_REDELIVER_AFTER)
    ).update(status=JobStatus.PENDING, last_error="not started in time: sent again")
    lost_with_worker = Job.objects.filter(status=JobStatus.RUNNING, lease_until__lt=now).update(
        status=JobStatus.PENDING, lease_until=None, last_error="its worker stopped renewing the lease: sent again"
    )
    waiting = list(
        Job.objects.filter(status=JobStatus.PENDING)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = jobs_send(waiting)
    old = list(
        Job.objects.filter(
            parent__isnull=True,
            status__in=[JobStatus.DONE, JobStatus.FAILED],
            finished_at__lt=now - timedelta(days=settings.JOBS_KEEP_DAYS),
        ).values_list("pk", flat=True)[:PURGE_BATCH]
    )
    purged = Job.objects.filter(pk__in=old).delete()[0] if old else 0
    return {"sent": sent, "waiting": len(waiting) - sent, "resent": lost_in_broker + lost_with_worker, "purged": purged}


def jobs_delayed(now: datetime | None = None) -> datetime | None:
    """When the oldest work still waiting for the broker or a worker was asked for, if any
    is late: a send has failed, or it has waited longer than ``JOBS_DELAYED_AFTER``. One
    query on the small index of unfinished jobs."""
    now = now or timezone.now()
    late = now - timedelta(seconds=settings.JOBS_DELAYED_AFTER)
    return (
        Job.objects.filter(
            Q(status=JobStatus.PENDING, sends__gt=0)
            | Q(status=JobStatus.PENDING, created_at__lt=late)
            | Q(status=JobStatus.QUEUED, sent_at__lt=late)
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def jobs_retry(jobs) -> int:
    """Admin's retry: failed (or stuck) jobs wait to be sent again; a fanned-out job's failed
    batches are sent again and the job waits for them. Returns the jobs set going."""
    again = 0
    with transaction.atomic():
        for job in jobs:
            if job.status == JobStatus.DONE:
                continue
            if job.batches_total:
                job.batches.filter(status=JobStatus.FAILED).update(status=JobStatus.PENDING, last_error="")
                Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, finished_at=None, last_error="")
            else:
                Job.objects.filter(pk=job.pk).update(
                    status=JobStatus.PENDING, finished_at=None, lease_until=None, last_error=""
                )
            again += 1
        pending = list(
            Job.objects.filter(
                Q(pk__in=[j.pk for j in jobs]) | Q(parent__in=jobs), status=JobStatus.PENDING
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: jobs_send(pending))
    return again
