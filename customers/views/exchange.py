"""Import (upload → preview → confirm) and export of the customer list.

The confirm step trusts nothing from the browser but a token: the uploaded file waits in the
database under that token, claimable by its uploader only (``customers.exchange.pending``), and
confirming reads and validates the file again before writing anything. A token works once, even
when two confirms race.
"""

from functools import partial

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.access import customers_for
from customers.exchange import export, pending
from customers.exchange.cells import MAX_ROWS, FileRejected
from customers.exchange.checking import Checked, ImportConflict, check, commit
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
    kinds = {k.key: k for k in _allowed_kinds(request.user)}
    claimed = pending.claim_upload(request, kind=PENDING_KIND)
    if claimed is None:
        return redirect("customers:import")
    data, entry = claimed
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
