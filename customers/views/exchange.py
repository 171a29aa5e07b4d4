"""Import (upload → preview → confirm) and export of the customer list.

The confirm step trusts nothing from the browser but a token: the uploaded file waits in the
database under that token, claimable by its uploader only (``customers.exchange.pending``), and
confirming reads and validates the file again before writing anything. A token works once, even
when two confirms race.
"""

from functools import partial

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers import tasks
from customers.access import customers_for
from customers.exchange import export, pending
from customers.exchange.cells import MAX_ROWS
from customers.exchange.checking import Checked, check
from customers.exchange.kinds import ImportKind, kinds_for
from customers.filters import CustomerFilter

PENDING_KIND = "customer_import"  # the repayment import has its own: neither claims the other's


class ImportForm(pending.UploadForm):
    kind = forms.ChoiceField(label=gettext_lazy("The file holds"), widget=forms.RadioSelect)
    field_order = ("kind", "file")

    def __init__(self, *args, kinds: list[ImportKind], chosen: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.key, k.label) for k in kinds]
        self.kinds = {k.key: k for k in kinds}
        # ?kind=… from a link (e.g. the admin's credit-report list); one the user may not import
        # is simply not chosen.
        self.fields["kind"].initial = chosen if chosen in self.kinds else kinds[0].key


# --- Views --------------------------------------------------------------------------------------
def _allowed_kinds(user) -> list[ImportKind]:
    kinds = kinds_for(user)
    if not kinds:
        raise PermissionDenied
    return kinds


def _preview(request: HttpRequest, checked: Checked, *, name: str, token: str | None) -> HttpResponse:
    context = pending.preview_context(checked, styles={"credit_code": pending.CODE})
    return render(
        request,
        "customers/import_preview.html",
        {**context, "kind": checked.kind, "name": name, "token": token},
    )


@require_http_methods(["GET", "POST"])
def customer_import(request: HttpRequest) -> HttpResponse:
    kinds = _allowed_kinds(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, kinds=kinds, chosen=request.GET.get("kind"))
    if request.method == "POST" and form.is_valid():
        kind = form.kinds[form.cleaned_data["kind"]]
        kept = pending.check_upload(
            form,
            partial(check, kind, user=request.user),
            owner=request.user,
            kind=PENDING_KIND,
            meta={"kind": kind.key},
        )
        if kept is not None:
            checked, token = kept
            return _preview(request, checked, name=form.cleaned_data["file"].name, token=token)
    return render(
        request,
        "customers/import_upload.html",
        {"form": form, "kinds": kinds, "max_rows": MAX_ROWS},
    )


@require_POST
def customer_import_confirm(request: HttpRequest) -> HttpResponse:
    """Asks for the import in the background and shows its result page at once; the job checks
    the file again before it writes anything (customers.exchange.background)."""
    kinds = {k.key for k in _allowed_kinds(request.user)}
    job = pending.confirm_upload(
        request,
        kind=PENDING_KIND,
        task=tasks.customer_import_run,
        allowed=lambda meta: meta.get("kind") in kinds,  # the user's role may have changed since the upload
    )
    if job is None:
        return redirect("customers:import")
    return redirect("customers:import_result", import_code=job.code)


@require_GET
def customer_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The list as the user filtered it (same query parameters), every page of it."""
    filterset = CustomerFilter(request.GET or None, queryset=customers_for(request.user), request=request)
    return export.download(filterset.qs, fmt)
