"""Repayment import: upload → preview → confirm, like the customer import (customers.exchange_views).

The confirm step trusts nothing from the browser but a token: the uploaded file waits on the
server under that token, which is also recorded in the user's session, and confirming checks
the file again under row locks before booking anything. A token works once, even when two
confirms race (a double click on a slow page): the waiting file is claimed by renaming it,
which exactly one of them can do.
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
from django.views.decorators.http import require_http_methods, require_POST

from crm import spreadsheets
from crm.access import can_import_repayments
from customers.exchange.cells import MAX_ROWS, MAX_UPLOAD_BYTES, FileRejected, too_big_message
from customers.exchange_views import KEEP_SECONDS, MAX_ERRORS_SHOWN, MAX_PENDING
from risk import imports
from risk.exceptions import ConcurrentChange, InputRefused

SESSION_KEY = "pending_repayment_imports"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV or Excel (.xlsx), at most 5 MB and 20,000 rows. The first row names the columns."),
        widget=forms.FileInput(attrs={"accept": f".csv,.xlsx,text/csv,{spreadsheets.XLSX_TYPE}"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_big_message())
        return upload


# --- Uploads waiting for confirmation -----------------------------------------------------------
def _folder() -> Path:
    # Not VAR_DIR / "imports": the customer import sweeps that folder and expects only its files.
    return Path(settings.VAR_DIR) / "repayment_imports"


def _keep(request: HttpRequest, data: bytes, name: str) -> str:
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = uuid.uuid4().hex
    (folder / token).write_bytes(data)
    pending = request.session.get(SESSION_KEY, {})
    pending[token] = {"name": name}
    for stale in list(pending)[:-MAX_PENDING]:
        del pending[stale]
        (folder / stale).unlink(missing_ok=True)
    request.session[SESSION_KEY] = pending
    return token


def _claim(request: HttpRequest, token: str) -> tuple[str, bytes] | None:
    """The file name and content kept under this token for this session, or None if it is
    not this session's, has expired or was claimed already.

    Removing the token from the session is not enough on its own: two requests of the same
    session can both load it before either saves. Renaming the file is the compare-and-set —
    the operating system lets exactly one rename of a path succeed."""
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    if entry is None:
        return None
    path = _folder() / uuid.UUID(hex=token).hex  # the token came from our session: a uuid
    claimed = path.with_name(f"{path.name}.{uuid.uuid4().hex}.claimed")
    try:
        path.rename(claimed)
    except FileNotFoundError:  # claimed by a racing confirm, or swept after KEEP_SECONDS
        return None
    try:
        return entry["name"], claimed.read_bytes()
    finally:
        claimed.unlink(missing_ok=True)


# --- Views --------------------------------------------------------------------------------------
def _allowed(user) -> None:
    # As the customer import does for a role it refuses: 403 — that the page exists is no secret.
    if not can_import_repayments(user):
        raise PermissionDenied


def _preview(
    request: HttpRequest, checked: imports.CheckedRepayments, *, name: str, token: str | None, status: int = 200
) -> HttpResponse:
    errors = checked.errors
    rows = []
    for row in checked.preview:
        bad = row.bad_columns()
        facility = row.values.get("facility")
        rows.append(
            {
                "number": row.number,
                "cells": [
                    (value, str(column.label) in bad, column.field)
                    for value, column in zip(row.cells, checked.columns, strict=True)
                ],
                "customer": facility.customer.name if facility else "",
                "errors": row.errors,
            }
        )
    return render(
        request,
        "risk/repayment_import_preview.html",
        {
            "checked": checked,
            "rows": rows,
            "name": name,
            "token": token,
            "errors": errors[:MAX_ERRORS_SHOWN],
            "error_count": len(errors),
            "errors_hidden": max(0, len(errors) - MAX_ERRORS_SHOWN),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def repayment_import(request: HttpRequest) -> HttpResponse:
    _allowed(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:
            checked = imports.check(data, user=request.user)
        except FileRejected as exc:
            form.add_error("file", exc.message)
        else:
            token = None if checked.bad_rows else _keep(request, data, upload.name)
            return _preview(request, checked, name=upload.name, token=token)
    return render(
        request,
        "risk/repayment_import.html",
        {"form": form, "kind": imports.REPAYMENTS, "max_rows": MAX_ROWS},
    )


@require_POST
def repayment_import_confirm(request: HttpRequest) -> HttpResponse:
    _allowed(request.user)
    token = request.POST.get("token", "")
    try:
        uuid.UUID(hex=token)
    except ValueError:
        token = ""
    claimed = _claim(request, token) if token else None
    if claimed is None:
        messages.error(request, _("This upload has expired or was imported already. Please upload the file again."))
        return redirect("risk:repayment_import")
    name, data = claimed
    try:
        checked = imports.repayments_import(data=data, by=request.user)
    except FileRejected as exc:
        messages.error(request, exc.message)
        return redirect("risk:repayment_import")
    except imports.ImportChanged as exc:
        messages.error(
            request,
            _(
                "Nothing was imported: the facilities changed since the preview and some rows are no longer "
                "valid. Correct the file and upload it again."
            ),
        )
        return _preview(request, exc.checked, name=name, token=None, status=409)
    except (InputRefused, ConcurrentChange):
        # Only if something changed between the re-check and the booking (e.g. midnight passed).
        messages.error(request, _("Nothing was imported: a facility changed while booking. Please upload again."))
        return redirect("risk:repayment_import")
    count = len(checked.rows)
    message = ngettext(
        "Imported %(count)d repayment of %(amount)s CNY in total from %(name)s.",
        "Imported %(count)d repayments of %(amount)s CNY in total from %(name)s.",
        count,
    )
    messages.success(request, message % {"count": count, "amount": f"{checked.amount:,.2f}", "name": name})
    return redirect("risk:repayment_import")
