"""Import (upload → preview → confirm) and export of the customer list.

The confirm step trusts nothing from the browser but a token: the uploaded file is kept on the
server under that token, which is also recorded in the user's session, and confirming reads
and validates the file again before writing anything. A token works once.
"""

import time
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import spreadsheets
from crm.access import customers_for
from customers.exchange import export
from customers.exchange.cells import MAX_ROWS, MAX_UPLOAD_BYTES, FileRejected, too_big_message
from customers.exchange.checking import Checked, ImportConflict, check, commit
from customers.exchange.kinds import ImportKind, kinds_for
from customers.filters import CustomerFilter

SESSION_KEY = "pending_imports"
KEEP_SECONDS = 6 * 60 * 60  # an upload not confirmed within this time is deleted
MAX_PENDING = 5  # per session; older ones are dropped
MAX_ERRORS_SHOWN = 1000
XLSX_TYPE = spreadsheets.XLSX_TYPE


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The file holds"), widget=forms.RadioSelect)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV or Excel (.xlsx), at most 5 MB and 20,000 rows. The first row names the columns."),
        widget=forms.FileInput(attrs={"accept": f".csv,.xlsx,text/csv,{XLSX_TYPE}"}),
    )

    def __init__(self, *args, kinds: list[ImportKind], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.key, k.label) for k in kinds]
        self.fields["kind"].initial = kinds[0].key
        self.kinds = {k.key: k for k in kinds}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_big_message())
        return upload


# --- Uploads waiting for confirmation -----------------------------------------------------------
def _folder() -> Path:
    return Path(settings.VAR_DIR) / "imports"


def _keep(request: HttpRequest, kind: ImportKind, data: bytes, name: str) -> str:
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = uuid.uuid4().hex
    (folder / token).write_bytes(data)
    pending = request.session.get(SESSION_KEY, {})
    pending[token] = {"kind": kind.key, "name": name}
    for stale in list(pending)[:-MAX_PENDING]:
        del pending[stale]
        (folder / stale).unlink(missing_ok=True)
    request.session[SESSION_KEY] = pending
    return token


def _take(request: HttpRequest, token: str) -> tuple[dict, bytes] | None:
    """The upload kept under this token for this session, removed so that it is used once."""
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    if entry is None:
        return None
    path = _folder() / uuid.UUID(hex=token).hex  # the token came from our session: a uuid
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # swept away after KEEP_SECONDS
        return None
    path.unlink(missing_ok=True)
    return entry, data


# --- Views --------------------------------------------------------------------------------------
def _allowed_kinds(user) -> list[ImportKind]:
    kinds = kinds_for(user)
    if not kinds:
        raise PermissionDenied
    return kinds


def _preview(request: HttpRequest, checked: Checked, *, name: str, token: str | None) -> HttpResponse:
    errors = checked.errors
    columns = checked.columns
    rows = [
        {
            "number": row.number,
            "cells": [
                (value, str(column.label) in row.bad_columns(), column.field)
                for value, column in zip(row.cells, columns, strict=True)
            ],
            "errors": row.errors,
        }
        for row in checked.preview
    ]
    return render(
        request,
        "customers/import_preview.html",
        {
            "checked": checked,
            "rows": rows,
            "kind": checked.kind,
            "name": name,
            "token": token,
            "errors": errors[:MAX_ERRORS_SHOWN],
            "error_count": len(errors),
            "errors_hidden": max(0, len(errors) - MAX_ERRORS_SHOWN),
        },
    )


@require_http_methods(["GET", "POST"])
def customer_import(request: HttpRequest) -> HttpResponse:
    kinds = _allowed_kinds(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        kind = form.kinds[form.cleaned_data["kind"]]
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:
            checked = check(kind, data, user=request.user)
        except FileRejected as exc:
            form.add_error("file", exc.message)
        else:
            token = None if checked.bad_rows else _keep(request, kind, data, upload.name)
            return _preview(request, checked, name=upload.name, token=token)
    return render(
        request,
        "customers/import_upload.html",
        {"form": form, "kinds": kinds, "max_rows": MAX_ROWS},
    )


@require_POST
def customer_import_confirm(request: HttpRequest) -> HttpResponse:
    kinds = {k.key: k for k in _allowed_kinds(request.user)}
    token = request.POST.get("token", "")
    try:
        uuid.UUID(hex=token)
    except ValueError:
        token = ""
    taken = _take(request, token) if token else None
    if taken is None:
        messages.error(request, _("This upload has expired or was imported already. Please upload the file again."))
        return redirect("customers:import")
    entry, data = taken
    kind = kinds.get(entry["kind"])
    if kind is None:  # the user's role changed since the upload
        raise PermissionDenied
    try:
        # Everything is checked again: the data may have changed since the preview.
        checked = check(kind, data, user=request.user)
    except FileRejected as exc:
        messages.error(request, exc.message)
        return redirect("customers:import")
    if checked.bad_rows:
        messages.error(request, _("The data changed since the preview, and some rows are no longer valid."))
        return _preview(request, checked, name=entry["name"], token=None)
    try:
        saved = commit(checked, by=request.user)
    except ImportConflict:
        messages.error(
            request,
            _("Someone registered one of these credit codes in the meantime. Nothing was imported; please try again."),
        )
        return redirect("customers:import")
    message = ngettext(
        "%(kind)s: imported %(count)d row from %(name)s.",
        "%(kind)s: imported %(count)d rows from %(name)s.",
        saved,
    )
    messages.success(request, message % {"kind": kind.label, "count": saved, "name": entry["name"]})
    return redirect("customers:list")


@require_GET
def customer_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The list as the user filtered it (same query parameters), every page of it."""
    filterset = CustomerFilter(request.GET or None, queryset=customers_for(request.user), request=request)
    return export.download(filterset.qs, fmt)
