"""A lock for periodic jobs that works on PostgreSQL and SQLite alike (no advisory locks)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from crm.models import JobLock


@contextmanager
def job_lock(name: str, *, ttl: timedelta) -> Iterator[bool]:
    """Yield True to the one caller that got the lock, False to everyone else.

    The lock expires after ``ttl`` (longer than the job may run) so a killed worker cannot
    hold it forever; the holder releases it early when done."""
    JobLock.objects.get_or_create(name=name)
    me = uuid.uuid4().hex
    now = timezone.now()
    won = (
        JobLock.objects.filter(name=name)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(holder=me, locked_until=now + ttl, last_started_at=now)
    )
    try:
        yield bool(won)
    finally:
        if won:
            JobLock.objects.filter(name=name, holder=me).update(
                holder="", locked_until=None, last_finished_at=timezone.now()
            )
