"""Uploads waiting for confirmation, shared by every import (customers, their data, repayments).

An import checks an uploaded file and shows a preview; a clean file then waits under a random
token (``keep``). The browser holds nothing but the token: confirming claims the file by it
(``claim``), and the import reads and checks the file again before writing anything. A token
works once, even when two confirms race.

The file waits in the database (``PendingUpload``), not on the disk of the web host that took
the upload: the confirm may be served by any host behind the load balancer, or come after the
user logged in again. The upload belongs to the user, not the session: only its uploader can
claim it, and a per-user quota bounds what a user keeps however many times they log in.
Uploads not confirmed within ``PendingUpload.KEEP_FOR`` are never claimable and are deleted by
``pending_uploads_purge`` (the hourly ``customers.tasks.pending_uploads_purge``).

Also here: the upload form every import starts from, the two steps every import view takes
(``check_upload`` and ``claim_upload``), and the preview's context (problems and the rows as
read), which ``templates/crm/_import_*.html`` show.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from celery import Task
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from crm import spreadsheets
from crm.jobs import job_request
from crm.models import UNFINISHED, Job
from customers.exchange import cells
from customers.exchange.checking import CheckedRow, RowError
from customers.exchange.kinds import Column
from customers.models import PendingUpload

# Per user, across every import; the user's oldest uploads are dropped to make room. Both
# limits, since the count alone would let a user hold 5 files of the largest size; a single
# upload is capped by the form (cells.MAX_UPLOAD_BYTES) and always fits.
MAX_PENDING = 5
MAX_PENDING_BYTES = 4 * cells.MAX_UPLOAD_BYTES
PURGE_BATCH = 100
MAX_ERRORS_SHOWN = 1000


# --- The upload form -----------------------------------------------------------------------------
def _limits_help() -> str:
    # The limits read_table() applies, as it applies them (cells.*), not a copy of the numbers.
    return _("CSV or Excel (.xlsx), at most %(mb)d MB and %(rows)s rows. The first row names the columns.") % {
        "mb": cells.MAX_UPLOAD_BYTES // (1024 * 1024),
        "rows": f"{cells.MAX_ROWS:,}",
    }


class UploadForm(forms.Form):
    """The file field and its size check; an import that asks more extends it."""

    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=lazy(_limits_help, str)(),  # translated when shown, not at import time
        widget=forms.FileInput(attrs={"accept": f".csv,.xlsx,text/csv,{spreadsheets.XLSX_TYPE}"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > cells.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(cells.too_big_message())
        return upload


# --- The two steps of an import view ------------------------------------------------------------
class _Judged(Protocol):
    @property
    def bad_rows(self) -> int: ...


Judged = TypeVar("Judged", bound=_Judged)


def check_upload(
    form: UploadForm, check: Callable[[bytes], Judged], *, owner, kind: str, meta: dict[str, Any] | None = None
) -> tuple[Judged, str | None] | None:
    """The upload step: check the valid ``form``'s file with ``check``. A file without a bad row
    is kept for ``owner`` to confirm in the import ``kind``, with ``meta`` and the file's name;
    returns the check and that token (None for a file with bad rows). Returns None when the
    file as a whole is refused: the form then carries the message."""
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        checked = check(data)
    except cells.FileRejected as exc:
        form.add_error("file", exc.message)
        return None
    token = None
    if not checked.bad_rows:
        token = keep(owner=owner, kind=kind, data=data, meta={**(meta or {}), "name": upload.name})
    return checked, token


def confirm_upload(
    request: HttpRequest, *, kind: str, task: Task, allowed: Callable[[dict[str, Any]], bool] = lambda meta: True
) -> Job | None:
    """The confirm step of a background import: the upload the POSTed token names becomes the
    file of a new job ``task(upload=…, language=…, **meta)`` (``meta`` as kept, with the file's
    name), asked for in the same transaction as the compare-and-set that marks the upload
    confirmed — both or neither. Only the request whose UPDATE took the upload gets a job: a
    double click, two tabs, a token of another user or import, an expired or already confirmed
    upload all get None, with a message telling the user to upload again. Raises
    PermissionDenied if ``allowed(meta)`` says the user may no longer do this import."""
    try:
        code = uuid.UUID(hex=request.POST.get("token", ""))  # the browser sends anything
    except ValueError:
        code = None
    waiting = PendingUpload.objects.unexpired().waiting().filter(code=code, owner=request.user, kind=kind)
    job = None
    with transaction.atomic():
        found = waiting.values_list("pk", "meta").first() if code else None
        if found is not None:
            pk, meta = found
            if not allowed(meta):  # e.g. the user's role changed since the upload
                raise PermissionDenied
            language = get_language() or settings.LANGUAGE_CODE
            job = job_request(task, by=request.user, upload=code.hex, language=language, **meta)
            # The row count decides between two confirms (the second waits on the row lock, or on
            # SQLite's write lock, and then finds the job set); the loser's job rolls back with it.
            if job is None or not waiting.filter(pk=pk).update(job=job):
                transaction.set_rollback(True)
                job = None
    if job is None:
        messages.error(request, _("This upload has expired or was imported already. Please upload the file again."))
    return job


def upload_for(code: str) -> PendingUpload | None:
    """The file a background import works on (its ``upload`` argument), with its owner."""
    return PendingUpload.objects.select_related("owner").filter(code=code, job__isnull=False).first()


def claim_upload(request: HttpRequest, *, kind: str) -> tuple[bytes, dict[str, Any]] | None:
    """The confirm step's start: the upload the POSTed token names, claimed for the request's
    user (``claim``). None, with a message telling the user to upload again, if there is none."""
    claimed = claim(owner=request.user, kind=kind, token=request.POST.get("token", ""))
    if claimed is None:
        messages.error(request, _("This upload has expired or was imported already. Please upload the file again."))
    return claimed


# --- Keeping and claiming ------------------------------------------------------------------------
# ``kind`` names the import (each view has its own): a token kept by one import is claimed by
# that import only.
def keep(*, owner, kind: str, data: bytes, meta: dict[str, Any]) -> str:
    """Keep ``data`` for ``owner`` until they confirm it in the import ``kind``; returns the token
    that claims it. ``meta`` (JSON-serialisable, e.g. the file's name) comes back with it. The
    owner's oldest uploads are deleted to keep them within MAX_PENDING and MAX_PENDING_BYTES."""
    with transaction.atomic():
        # Two uploads of one user at once (two tabs, two logins) would each count without the
        # other's row and together keep one too many: they take the user's row in turn, so the
        # second counts after the first committed. NO KEY UPDATE does not hold up rows that
        # merely point at the user (their customers, activities). SQLite has no row locks, but
        # BEGIN IMMEDIATE (settings) already puts writers in turn.
        get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).values_list("pk").get()
        upload = PendingUpload.objects.create(owner=owner, kind=kind, data=data, size=len(data), meta=meta)
        # Confirmed uploads belong to their import job now: never dropped for room.
        newest_first = PendingUpload.objects.waiting().filter(owner=owner).order_by("-created_at", "-pk")
        total, drop = 0, []
        for n, (pk, size) in enumerate(newest_first.values_list("pk", "size")):
            total += size
            if n >= MAX_PENDING or total > MAX_PENDING_BYTES:
                drop.append(pk)
        if drop:
            PendingUpload.objects.filter(pk__in=drop).delete()
    return upload.code.hex


def claim(*, owner, kind: str, token: str) -> tuple[bytes, dict[str, Any]] | None:
    """The data and meta kept under this token, deleted as they are handed over; or None if
    ``owner`` has no unexpired upload of import ``kind`` under it: never kept, another user's,
    expired, or claimed already — one answer for all, so a token tells no one else anything.

    A compare-and-set: the upload is read under a row lock and deleted, and only the request
    whose DELETE removed the row gets the data. Two confirms of one token (a double click, two
    tabs) queue on the row — PostgreSQL: the lock of SELECT … FOR UPDATE; SQLite: the write lock
    of BEGIN IMMEDIATE — and the second finds it gone."""
    try:
        code = uuid.UUID(hex=token)  # the browser sends anything; only a uuid is looked up
    except ValueError:
        return None
    claimable = PendingUpload.objects.unexpired().waiting().filter(code=code, owner=owner, kind=kind)
    with transaction.atomic():
        found = claimable.select_for_update().values_list("pk", "data", "meta").first()
        if found is None:
            return None
        pk, data, meta = found
        if not claimable.filter(pk=pk).delete()[0]:  # without the lock, the DELETE still decides
            return None
    return bytes(data), meta  # PostgreSQL hands binary data over as a memoryview


def pending_uploads_purge(*, now: datetime | None = None) -> int:
    """Delete the uploads older than KEEP_FOR; returns how many. They can no longer be claimed,
    only take space. In batches of PURGE_BATCH, each its own short transaction, so a big backlog
    never holds many rows locked at once; uploads claimed meanwhile are simply gone."""
    now = now or timezone.now()
    deleted = 0
    while True:
        # An upload whose import job has not finished is still that job's file (a job that died
        # is sent again and reads it); once the job is done the job deletes it.
        expired = PendingUpload.objects.expired(now=now).exclude(job__status__in=UNFINISHED).order_by("created_at")
        batch = list(expired.values_list("pk", flat=True)[:PURGE_BATCH])
        if not batch:
            return deleted
        # No signals or relations on PendingUpload: one DELETE, the data is never read.
        deleted += PendingUpload.objects.filter(pk__in=batch).delete()[0]


# --- The preview ---------------------------------------------------------------------------------
class _Checked(Protocol):
    columns: list[Column]
    rows: list[CheckedRow]

    @property
    def errors(self) -> list[RowError]: ...

    @property
    def preview(self) -> list[CheckedRow]: ...


@dataclass(frozen=True)
class Style:
    """CSS classes of a column's header and its cells in the rows table."""

    header: str = ""
    cell: str = ""


CODE = Style(cell="font-monospace text-nowrap")
AMOUNT = Style(header="text-end", cell="text-end tabular")


@dataclass(frozen=True)
class Derived:
    """A column the file does not have, shown after one it has: e.g. the customer a facility
    code names, so the user sees whose facility each row repays."""

    after: str  # the field of the file's column it follows
    label: str
    value: Callable[[CheckedRow], str]


@dataclass(frozen=True)
class Header:
    label: str
    css: str = ""


@dataclass(frozen=True)
class Cell:
    value: str
    css: str = ""
    bad: bool = False  # a problem names this cell's column

    @property
    def classes(self) -> str:
        return f"{self.css} table-danger".strip() if self.bad else self.css


@dataclass(frozen=True)
class Row:
    number: int
    cells: list[Cell]
    errors: list[RowError]


def preview_context(
    checked: _Checked, *, styles: Mapping[str, Style] | None = None, derived: Sequence[Derived] = ()
) -> dict[str, Any]:
    """The context ``_import_problems.html``, ``_import_verdict.html`` and ``_import_rows.html``
    take: the first MAX_ERRORS_SHOWN problems, and the preview rows cell by cell — marked where
    a problem is, styled by ``styles`` (per field), with the ``derived`` columns added."""
    styles = styles or {}
    extra = {d.after: d for d in derived}
    headers: list[Header] = []
    for column in checked.columns:
        headers.append(Header(str(column.label), styles.get(column.field, Style()).header))
        if column.field in extra:
            headers.append(Header(str(extra[column.field].label)))
    rows = []
    for row in checked.preview:
        bad = row.bad_columns()
        shown = []
        for value, column in zip(row.cells, checked.columns, strict=True):
            css = styles.get(column.field, Style()).cell
            shown.append(Cell(value, css, str(column.label) in bad))
            if column.field in extra:
                shown.append(Cell(extra[column.field].value(row)))
        rows.append(Row(row.number, shown, row.errors))
    errors = checked.errors
    return {
        "checked": checked,
        "headers": headers,
        "rows": rows,
        "errors": errors[:MAX_ERRORS_SHOWN],
        "error_count": len(errors),
        "errors_hidden": max(0, len(errors) - MAX_ERRORS_SHOWN),
    }
