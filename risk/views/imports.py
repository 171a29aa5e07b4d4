"""Repayment import: upload → preview → confirm, like the customer import (customers.views.exchange).

The confirm step trusts nothing from the browser but a token: the uploaded file waits in the
database under that token, claimable by its uploader only (``customers.exchange.pending``), and
confirming checks the file again under row locks before booking anything. A token works once,
even when two confirms race (a double click on a slow page): claiming deletes the waiting
upload, and only the request whose delete removed it gets the file.
"""

from functools import partial

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from customers.exchange import pending
from customers.exchange.cells import MAX_ROWS
from customers.exchange.checking import CheckedRow
from risk import imports, tasks
from risk.access import can_import_repayments

# Not the customer import's kind: a token kept by one import is never claimed by the other.
PENDING_KIND = "repayment_import"
STYLES = {"facility_code": pending.CODE, "credit_code": pending.CODE, "amount": pending.AMOUNT}


# --- Views --------------------------------------------------------------------------------------
def _allowed(user) -> None:
    # As the customer import does for a role it refuses: 403 — that the page exists is no secret.
    if not can_import_repayments(user):
        raise PermissionDenied


def _customer_name(row: CheckedRow) -> str:
    facility = row.values.get("facility")
    return facility.customer.name if facility else ""


def _preview(
    request: HttpRequest, checked: imports.CheckedRepayments, *, name: str, token: str | None, status: int = 200
) -> HttpResponse:
    customer = pending.Derived(after="facility_code", label=_("Customer"), value=_customer_name)
    context = pending.preview_context(checked, styles=STYLES, derived=[customer])
    return render(
        request, "risk/repayment_import_preview.html", {**context, "name": name, "token": token}, status=status
    )


@require_http_methods(["GET", "POST"])
def repayment_import(request: HttpRequest) -> HttpResponse:
    _allowed(request.user)
    form = pending.UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        kept = pending.check_upload(
            form, partial(imports.check, user=request.user), owner=request.user, kind=PENDING_KIND
        )
        if kept is not None:
            checked, token = kept
            return _preview(request, checked, name=form.cleaned_data["file"].name, token=token)
    return render(
        request,
        "risk/repayment_import.html",
        {"form": form, "kind": imports.REPAYMENTS, "max_rows": MAX_ROWS},
    )


@require_POST
def repayment_import_confirm(request: HttpRequest) -> HttpResponse:
    """Asks for the booking in the background and shows the import's result page at once; the
    job checks the file again under the facilities' row locks (customers.exchange.background)."""
    _allowed(request.user)
    job = pending.confirm_upload(request, kind=PENDING_KIND, task=tasks.repayment_import_run)
    if job is None:
        return redirect("risk:repayment_import")
    return redirect("customers:import_result", import_code=job.code)
