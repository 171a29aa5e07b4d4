"""Uploads waiting for confirmation, shared by every import (customers, their data, repayments).

An import checks an uploaded file and shows a preview; a clean file then waits on the server
under a random token, which is also recorded in the user's session. The browser holds nothing
but the token: confirming claims the file by it (``claim``), and the import reads and checks the
file again before writing anything. A token works once, even when two confirms race.

Also here: the upload form every import starts from, and the preview's context (problems and
the rows as read), which ``templates/crm/_import_*.html`` show.
"""

import stat
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import spreadsheets
from customers.exchange import cells
from customers.exchange.checking import CheckedRow, RowError
from customers.exchange.kinds import Column

KEEP_SECONDS = 6 * 60 * 60  # an upload not confirmed within this time is expired and deleted
MAX_PENDING = 5  # per session and import; older ones are dropped
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


# --- Keeping and claiming ------------------------------------------------------------------------
# ``folder`` names a directory of VAR_DIR that holds only one import's files; ``key`` is the
# session key listing that import's tokens. Each import has its own of both.
def _path(folder: str) -> Path:
    return Path(settings.VAR_DIR) / folder


def keep(request: HttpRequest, *, key: str, folder: str, data: bytes, meta: dict[str, Any]) -> str:
    """Keep ``data`` for this session until confirmed; returns the token that claims it.
    ``meta`` (JSON-serialisable, e.g. the file's name) comes back with it."""
    path = _path(folder)
    path.mkdir(parents=True, exist_ok=True)
    _sweep(path)
    token = uuid.uuid4().hex
    (path / token).write_bytes(data)
    pending = request.session.get(key, {})
    pending[token] = meta
    for stale in list(pending)[:-MAX_PENDING]:
        del pending[stale]
        (path / stale).unlink(missing_ok=True)
    request.session[key] = pending
    return token


def claim(request: HttpRequest, *, key: str, folder: str, token: str) -> tuple[bytes, dict[str, Any]] | None:
    """The data and meta kept under this token, or None if the token is not this session's,
    has expired or was claimed already. Either way the token is spent.

    Removing the token from the session is not enough on its own: two requests of the same
    session (a double click) can both load it before either saves. Renaming the file is the
    compare-and-set — the operating system lets exactly one rename of a path succeed."""
    try:
        name = uuid.UUID(hex=token).hex  # never a path from the browser: only a uuid
    except ValueError:
        return None
    pending = request.session.get(key, {})
    meta = pending.pop(token, None)
    request.session[key] = pending
    if meta is None:
        return None
    kept = _path(folder) / name
    claimed = kept.with_name(f"{name}.{uuid.uuid4().hex}.claimed")
    try:
        kept.rename(claimed)
    except FileNotFoundError:  # claimed by a racing confirm, or swept after KEEP_SECONDS
        return None
    try:
        # A rename keeps the modification time: an upload older than KEEP_SECONDS is expired
        # whether or not a sweep has come by yet.
        if claimed.stat().st_mtime < time.time() - KEEP_SECONDS:
            return None
        return claimed.read_bytes(), meta
    except FileNotFoundError:  # swept between the rename and here
        return None
    finally:
        claimed.unlink(missing_ok=True)


def _sweep(path: Path) -> None:
    """Delete the files older than KEEP_SECONDS: never confirmed, or claimed by a request that
    died before it removed the file. Other requests sweep, keep and claim at the same time, so
    a file may vanish between the listing and its turn."""
    cutoff = time.time() - KEEP_SECONDS
    for old in path.iterdir():
        try:
            info = old.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:
            continue


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
