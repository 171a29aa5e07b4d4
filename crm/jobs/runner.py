"""How every background job runs: one decorator gives it its Job row, lease, heartbeat,
retries and time limits, so a task body is only the call of a service.

    @periodic_job(lock="portfolio_regrade", time_limit=5 * MINUTE)
    def portfolio_regrade(reason: str = GradeReason.SCHEDULED) -> dict:
        ...

What the decorator does around the body:
- **Row.** Work asked for through ``job_request`` already has its Job row (the task id is its
  code); a beat run or a direct call gets one, so every run is on the admin's jobs page. A
  row already done or failed is not run again: a duplicate message costs nothing.
- **Lease** (``lock=``). One run of that job at a time (crm.jobs.leases). A *requested* run
  that finds the lease held is retried later — never acked as done; a beat run just skips
  (the next beat comes).
- **Heartbeat.** A thread renews the row's and the lock's lease every third of its term while
  the body runs; when a worker dies the lease runs out within ``JOBS_LEASE_SECONDS`` and the
  sweep sends the job again.
- **Retries.** A database or broker error (a restarted PostgreSQL, a dropped connection)
  retries the run with a growing delay; bodies are idempotent batches, so that is safe.
- **Batches.** ``fan_out`` splits a job into batch jobs (rows written in one transaction,
  sent after commit). The parent is done when its last batch is — counted by compare-and-set
  in the batch's own transaction, so a batch run twice counts once — and may then ask for a
  follow-up job (``then``).
- **Time limits** at most ``MAX_TIME_LIMIT``, below the broker's visibility timeout, so Redis
  never hands a job that is still running to a second worker.
"""

import contextlib
import logging
import random
import smtplib
import threading
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from celery import Task, shared_task
from celery import current_app as app  # the project's app (config.celery): every task, the apps' included
from celery.exceptions import Retry
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from crm.jobs.leases import lease_release, lease_renew, lease_take
from crm.jobs.outbox import jobs_send, task_name
from crm.models import UNFINISHED, Job, JobStatus

log = logging.getLogger(__name__)

MINUTE = 60
MAX_TIME_LIMIT = 10 * MINUTE  # keep below CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
# Faults that pass: the database or broker restarting, a dropped connection, a mail server
# that refused or hung up. Anything else fails the job at once (admin: Background jobs).
RETRYABLE = (OperationalError, InterfaceError, BrokerError, ConnectionError, smtplib.SMTPException)
MAX_RETRIES = 10
MAX_DELAY = 5 * MINUTE


@dataclass
class Run:
    job: Job
    inline: bool  # called directly (a test, a command): batches run here, not on a worker


_current: ContextVar[Run | None] = ContextVar("crm_job_run", default=None)


class LeaseHeld(Exception):
    """Another run holds this job's lease."""


def background_job(*, lock: str = "", time_limit: int, soft_time_limit: int | None = None) -> Callable:
    """Register ``fn`` as a Celery task named after it (``app.tasks.fn``, as beat schedules
    name it) that runs under this module's rules. ``lock`` names its lease, if it needs one.
    Tasks take keyword arguments only (ids and plain values, never objects)."""
    if time_limit > MAX_TIME_LIMIT:
        raise ValueError(f"time_limit {time_limit}s is over {MAX_TIME_LIMIT}s: split the job into batches")
    soft = soft_time_limit or max(time_limit - 30, time_limit * 9 // 10)

    def decorate(fn: Callable) -> Task:
        def task(self: Task, **kwargs):
            return _run(self, fn, lock, kwargs)

        task.__name__, task.__doc__, task.__module__ = fn.__name__, fn.__doc__, fn.__module__
        return shared_task(
            bind=True,
            name=f"{fn.__module__}.{fn.__name__}",
            time_limit=time_limit,
            soft_time_limit=soft,
            max_retries=MAX_RETRIES,
        )(task)

    return decorate


# The name the style guide gives a scheduled job; the rules are the same.
periodic_job = background_job


def _retry_delay(task: Task) -> float:
    return min(MAX_DELAY, 2 ** (task.request.retries + 1)) + random.uniform(0, 1)


def _run(task: Task, fn: Callable, lock: str, kwargs: dict):
    inline = bool(task.request.called_directly)
    code = task.request.id or str(uuid.uuid4())
    try:
        requested = Job.objects.filter(code=code).exists()
        if requested and not _claim(code):
            # A duplicate message (the sweep re-sent it, or the broker redelivered it): the job
            # is done, or running on a worker that is alive — its lease is being renewed.
            log.info("%s %s is done or running elsewhere; not run again", task.name, code)
            return {"skipped": "done or running elsewhere"}
        if lock and not lease_take(lock, holder=code):
            if not requested or inline:
                log.info("%s already running; skipped", task.name)
                return {"skipped": True}
            # Asked-for work must happen: come back once the running one is done.
            _note(code, status=JobStatus.QUEUED, error=f"waiting for the running {lock}")
            raise task.retry(countdown=settings.JOBS_LEASE_SECONDS, exc=LeaseHeld(lock))
        job = Job.objects.get(code=code) if requested else _record(code, task.name, kwargs)
    except RETRYABLE as exc:  # the database is away before the job began: try again later
        if inline:
            raise
        _forget_connections()
        _note(code, status=JobStatus.QUEUED, error=f"{type(exc).__name__}: {exc}")  # if it can
        raise task.retry(exc=exc, countdown=_retry_delay(task)) from exc
    token = _current.set(Run(job=job, inline=inline))
    heartbeat = Heartbeat(job_id=job.pk, lock=lock, holder=code)
    heartbeat.start()
    try:
        result = fn(**kwargs)
    except RETRYABLE as exc:
        heartbeat.stop()
        if inline or task.request.retries >= MAX_RETRIES:
            _fail(job, exc)
            raise
        _forget_connections()
        delay = _retry_delay(task)
        log.warning("%s failed with %s; retrying in %.0f s", task.name, exc, delay)
        _note(code, status=JobStatus.QUEUED, error=f"{type(exc).__name__}: {exc}")
        try:
            raise task.retry(exc=exc, countdown=delay)
        except Retry:
            raise
        except Exception:  # the broker is away too: the row waits for the sweep instead
            _note(code, status=JobStatus.PENDING, error=f"{type(exc).__name__}: {exc}")
            raise
    except Exception as exc:
        heartbeat.stop()
        _fail(job, exc)
        raise
    else:
        heartbeat.stop()
        _finish(job, result, inline=inline)
        return result
    finally:
        _current.reset(token)
        if lock:
            try:
                lease_release(lock, holder=code)
            except DatabaseError:  # the lease runs out by itself within a minute
                log.warning("could not release %s; its lease will run out", lock)


def _running_fields(now) -> dict:
    lease = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS)
    return {"status": JobStatus.RUNNING, "started_at": now, "lease_until": lease}


def _claim(code: str) -> bool:
    """Compare-and-set the requested job to *running*: from waiting, or from running on a
    worker whose lease ran out (it died). The row count decides, so of two copies of one
    message only one runs while the other's worker is alive."""
    now = timezone.now()
    claimable = Q(status__in=[JobStatus.PENDING, JobStatus.QUEUED]) | Q(status=JobStatus.RUNNING, lease_until__lt=now)
    return bool(Job.objects.filter(claimable, code=code).update(**_running_fields(now), runs=F("runs") + 1))


def _record(code: str, name: str, kwargs: dict) -> Job:
    """A beat run or a direct call: recorded like requested work, so the jobs page shows it."""
    defaults = {"task": name, "kwargs": kwargs, "runs": 1, **_running_fields(timezone.now())}
    job, _ = Job.objects.get_or_create(code=code, defaults=defaults)
    return job


def _note(code: str, *, status: str, error: str) -> None:
    try:
        Job.objects.filter(code=code, status__in=UNFINISHED).update(
            status=status, lease_until=None, last_error=error[:2000], sent_at=timezone.now()
        )
    except DatabaseError:  # the database is what failed: the lease runs out instead
        log.warning("could not record the state of job %s", code)


def _forget_connections() -> None:
    """Drop this thread's database connections after an error, so the retry reconnects."""
    for conn in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):
            conn.close()


def _fail(job: Job, exc: BaseException) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    now = timezone.now()
    try:
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.FAILED, finished_at=now, lease_until=None, last_error=error
            )
            if job.parent_id:
                # The whole job cannot finish without this batch: say so on the parent.
                Job.objects.filter(pk=job.parent_id, status__in=UNFINISHED).update(
                    status=JobStatus.FAILED, finished_at=now, last_error=f"batch {job.code}: {error}"
                )
    except DatabaseError:
        log.exception("could not record the failure of job %s", job.code)


def _finish(job: Job, result, *, inline: bool) -> None:
    """The body returned: the job waits for its batches, if any, or is done."""
    stored = result if isinstance(result, dict | list | int | str | None) else str(result)
    follow: list[Job] = []
    with transaction.atomic():
        ran = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.WAITING, lease_until=None, result=stored, last_error=""
        )
        if ran:
            follow = _complete(job.pk)
        if follow and not inline:
            transaction.on_commit(lambda: jobs_send([f.pk for f in follow]))
    if inline:  # a direct call does the follow-up here too, like its batches
        for f in follow:
            app.tasks[f.task].apply(kwargs=f.kwargs, task_id=str(f.code), throw=True)


def _complete(pk: int) -> list[Job]:
    """Compare-and-set *waiting* → *done* once every batch is done. Both the job's own finish
    and each batch's call it; whichever comes last wins (the row lock of the counter's UPDATE
    orders them), and the winner counts the job in its own parent and asks for ``then``.
    Returns the follow-up jobs asked for, to be sent once the caller's transaction commits."""
    now = timezone.now()
    if not Job.objects.filter(pk=pk, status=JobStatus.WAITING, batches_done__gte=F("batches_total")).update(
        status=JobStatus.DONE, finished_at=now
    ):
        return []
    parent_id, then = Job.objects.values_list("parent_id", "then").get(pk=pk)
    follow = [Job.objects.create(task=then["task"], kwargs=then.get("kwargs", {}))] if then else []
    if parent_id:
        Job.objects.filter(pk=parent_id).update(batches_done=F("batches_done") + 1)
        follow += _complete(parent_id)
    return follow


def fan_out(task: Task | str, batches: Iterable[dict], *, then: Task | str | None = None, **then_kwargs) -> int:
    """Split the running job into one batch job per kwargs in ``batches``, written in one
    transaction and sent once it commits; ``then`` is requested when the last batch is done.
    Called directly (a test, a management command), the batches run here, one after another."""
    run = _current.get()
    if run is None:
        raise RuntimeError("fan_out() is for the body of a background_job")
    name = task_name(task)
    with transaction.atomic():
        rows = Job.objects.bulk_create(
            [Job(task=name, kwargs=kwargs, parent=run.job, status=JobStatus.PENDING) for kwargs in batches]
        )
        Job.objects.filter(pk=run.job.pk).update(
            batches_total=F("batches_total") + len(rows),
            then={"task": task_name(then), "kwargs": then_kwargs} if then else None,
        )
        ids = list(Job.objects.filter(parent=run.job, status=JobStatus.PENDING).values_list("pk", flat=True))
        if not run.inline:
            transaction.on_commit(lambda: jobs_send(ids))
    if run.inline:
        for row in Job.objects.filter(pk__in=ids).order_by("pk"):
            app.tasks[name].apply(kwargs=row.kwargs, task_id=str(row.code), throw=True)
    return len(rows)


class Heartbeat(threading.Thread):
    """Renews the running job's lease (and its lock's) every third of the term, on its own
    database connection, until stopped."""

    def __init__(self, *, job_id: int, lock: str, holder: str):
        super().__init__(name=f"job-heartbeat-{job_id}", daemon=True)
        self.job_id, self.lock, self.holder = job_id, lock, holder
        self._stop_event = threading.Event()

    def run(self) -> None:
        term = settings.JOBS_LEASE_SECONDS
        try:
            while not self._stop_event.wait(term / 3):
                try:
                    until = timezone.now() + timedelta(seconds=term)
                    Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(lease_until=until)
                    if self.lock and not lease_renew(self.lock, holder=self.holder):
                        log.warning("lease %s was taken over from %s", self.lock, self.holder)
                except DatabaseError as exc:
                    log.warning("heartbeat of job %s failed: %s", self.job_id, exc)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=5)
