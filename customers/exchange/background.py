"""Imports confirmed in the background: the job that writes a confirmed upload, its progress,
its result and the mail that says a large one has finished.

The confirm request only asks for the job (``pending.confirm_upload``: the job row and the
upload marked confirmed in one transaction) and sends the user to the import's result page,
which reads the job's row. The job then:

1. **checks the whole file again** (the data may have changed since the preview) before it
   writes anything. A file with any bad row imports nothing, as before: the result lists
   the rows and what is wrong with them;
2. **writes it in chunks** of ``IMPORT_CHUNK_ROWS`` rows (settings; 1,000), each chunk in its
   own transaction, which checks that chunk once more under the same rules and locks as the
   one-transaction import did (``ImportWriter.write``) and advances the job's
   ``progress_done`` by compare-and-set. The chunk's rows and the counter commit together:
   a chunk is never half applied, and the counter is what the progress bar shows;
3. stores the result on the job and deletes the upload.

Why chunks, and not one transaction as the import had: the progress bar needs rows done to
be visible while the job runs, and what one transaction writes is invisible (and, on SQLite,
even a progress row written from a second connection would wait on that transaction's write
lock). The price is the all-or-nothing promise *across* chunks: step 1 refuses every file with
a bad row before the first chunk, so only a change that lands in the seconds between the check
and a later chunk — someone registers one of the file's credit codes, a facility is repaid at
the same moment — can stop an import half way. Then the chunks before it stay imported, that
chunk and the rest do not, and the result page says exactly which rows were imported and why
the rest were not, so the user uploads the rest again.

**A re-run never applies a row twice.** ``progress_done`` is a checkpoint committed with the
rows it counts: a job sent again after its worker died resumes at the checkpoint, and checks
and writes only the rows after it. Two runs of one job at once (a copy of the message) cannot
both commit a chunk: the second compare-and-set finds the counter moved and its chunk rolls back.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.models import Job
from customers.exchange import pending
from customers.exchange.cells import FileRejected
from customers.exchange.checking import Checked, ImportConflict, RowError, check, commit
from customers.exchange.kinds import KINDS

log = logging.getLogger(__name__)

ERRORS_KEPT = 200  # row errors stored on the job (the count is kept whole)
# Faults after which the runner sends the job again (crm.jobs.runner.RETRYABLE): no mail yet.
PASSING = (OperationalError, InterfaceError, ConnectionError)


class Outcome:
    IMPORTED = "imported"  # every row
    REFUSED = "refused"  # no row: the file, or a row of it, is not valid now
    PARTIAL = "partial"  # the chunks before a conflict


class RowsRefused(Exception):
    """Rows that are not valid now; raised inside a chunk's transaction, it rolls the chunk back."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} row error(s)")
        self.errors = errors


class Overtaken(Exception):
    """Another run of the same job has written this chunk already."""


class _Judged(Protocol):
    rows: list

    @property
    def errors(self) -> list[RowError]: ...


@dataclass(frozen=True)
class ImportWriter:
    """What one kind of import does, for ``import_run``: ``check(data, user, part)`` judges the
    rows ``part`` without writing; ``write(data, user, part)`` checks them again and writes them
    in the caller's transaction, raising ``RowsRefused`` (or ``FileRejected``) for rows that are
    no longer valid; ``summary(checked)`` adds to the result what the kind reports (e.g. the
    amount booked)."""

    check: Callable[[bytes, Any, slice], _Judged]
    write: Callable[[bytes, Any, slice], None]
    summary: Callable[[_Judged], dict] = lambda checked: {}


def _errors(errors: list[RowError]) -> dict:
    kept = [{"row": e.row, "column": e.column, "message": e.message} for e in errors[:ERRORS_KEPT]]
    return {"errors": kept, "error_count": len(errors)}


def _progress(job: Job, **fields: int) -> None:
    Job.objects.filter(pk=job.pk).update(**fields)


def import_run(*, upload: str, writer: ImportWriter, language: str) -> dict:
    """The body of every import job: check, write in chunks, keep the result (module docstring).
    Returns the result the job stores; mails the requester when the file was large."""
    kept = pending.upload_for(upload)
    if kept is None:
        raise FileNotFoundError("the uploaded file is no longer kept; upload it again")
    job = Job.objects.get(pk=kept.job_id)
    with translation.override(language):  # the row errors in the requester's language
        try:
            result = _import(job, kept.data, kept.owner, writer)
        except Exception as exc:
            if not isinstance(exc, PASSING):  # failed for good: the runner marks the job failed
                job.refresh_from_db(fields=["progress_total"])
                _mail(job, kept.owner, kept.meta.get("name", ""), rows=job.progress_total, failed=str(exc))
            raise
    # Mail first: if the mail server fails, the job runs again from its checkpoint (all rows
    # written: nothing to do) and mails then; the file goes once the requester has been told.
    _mail(job, kept.owner, kept.meta.get("name", ""), rows=result["rows"], result=result)
    kept.delete()  # imported, or refused for good: the file is no longer needed
    return result


def _import(job: Job, data: bytes, user, writer: ImportWriter) -> dict:
    data = bytes(data)  # PostgreSQL hands binary data over as a memoryview
    start = Job.objects.values_list("progress_done", flat=True).get(pk=job.pk)  # the checkpoint
    try:
        checked = writer.check(data, user, slice(start, None))
    except FileRejected as exc:
        return {"outcome": Outcome.REFUSED, "rows": 0, "created": 0, **_errors([RowError(0, "", exc.message)])}
    total = start + len(checked.rows)
    _progress(job, progress_total=total)
    base = {"rows": total, **writer.summary(checked)}
    if checked.errors:
        return {"outcome": Outcome.REFUSED, "created": start, **base, **_errors(checked.errors)}
    size = settings.IMPORT_CHUNK_ROWS
    for lo in range(start, total, size):
        hi = min(lo + size, total)
        try:
            with transaction.atomic():
                writer.write(data, user, slice(lo, hi))
                # The checkpoint, in the chunk's transaction (module docstring).
                if not Job.objects.filter(pk=job.pk, progress_done=lo).update(progress_done=hi):
                    raise Overtaken
        except (RowsRefused, FileRejected) as exc:
            errors = exc.errors if isinstance(exc, RowsRefused) else [RowError(0, "", exc.message)]
            outcome = Outcome.PARTIAL if lo else Outcome.REFUSED
            return {"outcome": outcome, "created": lo, **base, **_errors(errors)}
    return {"outcome": Outcome.IMPORTED, "created": total, **base, **_errors([])}


def customer_writer(key: str) -> ImportWriter:
    """The customer imports' writer, for the import kind ``key`` (customers.exchange.kinds)."""
    kind = KINDS[key]

    def judge(data: bytes, user, part: slice) -> Checked:
        return check(kind, data, user=user, part=part)

    def write(data: bytes, user, part: slice) -> None:
        checked = judge(data, user, part)
        if checked.bad_rows:
            raise RowsRefused(checked.errors)
        try:
            commit(checked, by=user)
        except ImportConflict:
            message = _("Someone registered one of these credit codes in the meantime.")
            raise RowsRefused([RowError(0, "", message)]) from None

    return ImportWriter(check=judge, write=write)


def result_url(job: Job) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("customers:import_result", args=[job.code])


def _mail(job: Job, user, name: str, *, rows: int, result: dict | None = None, failed: str = "") -> None:
    """Tell the requester that a large import has finished (or failed), in the language they
    imported in, with a link to its result page: they may have closed it long ago."""
    if rows <= settings.IMPORT_MAIL_ROWS or not user.email:
        return
    with translation.override(job.kwargs.get("language") or user.language or settings.LANGUAGE_CODE):
        if failed:
            subject = _("Import failed: %(name)s") % {"name": name}
            summary = _("The import stopped with an error: %(error)s") % {"error": failed}
        elif result["outcome"] == Outcome.IMPORTED:
            subject = _("Import finished: %(name)s") % {"name": name}
            summary = ngettext(
                "All %(count)s row was imported.", "All %(count)s rows were imported.", result["created"]
            ) % {"count": f"{result['created']:,}"}
        else:
            subject = _("Import finished with problems: %(name)s") % {"name": name}
            summary = _("%(created)s of %(rows)s rows were imported; %(errors)s problems stopped the rest.") % {
                "created": f"{result['created']:,}",
                "rows": f"{result['rows']:,}",
                "errors": f"{result['error_count']:,}",
            }
        body = _("%(summary)s\n\nThe result, row by row: %(url)s") % {"summary": summary, "url": result_url(job)}
    send_mail(" ".join(subject.split()), body, None, [user.email])
