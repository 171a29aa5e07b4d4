"""Leases for jobs that must not run twice at once, on PostgreSQL and SQLite alike (no advisory
locks): a row per job name, taken and renewed by compare-and-set UPDATEs.

A lease is short (``settings.JOBS_LEASE_SECONDS``, a minute by default) and the running job's
heartbeat renews it (crm.jobs.runner), so a worker that dies frees it within a minute instead
of holding it for the job's whole time limit. The holder is the Celery task id: a message
redelivered after its worker died carries the same id and takes the lease over at once, where
a different run (a second beat, an overlapping schedule) is refused until the lease runs out."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from crm.models import JobLock


def lease_seconds() -> int:
    return settings.JOBS_LEASE_SECONDS


def lease_take(name: str, *, holder: str) -> bool:
    """True if ``holder`` now holds the lease ``name``: it was free, ran out, or is its own."""
    JobLock.objects.get_or_create(name=name)
    now = timezone.now()
    won = (
        JobLock.objects.filter(name=name)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now) | Q(holder=holder))
        .update(holder=holder, locked_until=now + timedelta(seconds=lease_seconds()), last_started_at=now)
    )
    return bool(won)


def lease_renew(name: str, *, holder: str) -> bool:
    """Extend the lease by another term; False if it has been taken over meanwhile."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    return bool(JobLock.objects.filter(name=name, holder=holder).update(locked_until=until))


def lease_release(name: str, *, holder: str) -> None:
    JobLock.objects.filter(name=name, holder=holder).update(
        holder="", locked_until=None, last_finished_at=timezone.now()
    )
