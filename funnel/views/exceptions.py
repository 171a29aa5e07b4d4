"""Exceptions to the tier policy: requested by whoever works the deal, decided by someone else
(four eyes, funnel.deciders)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from funnel import services
from funnel.access import access_deal
from funnel.deciders import decide_refusal, deciders
from funnel.exceptions import NotAllowed
from funnel.forms import (
    ExceptionDecisionForm,
    ExceptionRequestForm,
)
from funnel.models import ExceptionStatus
from funnel.selectors import exception_queue
from funnel.views.deals import deal_url


@require_GET
def exception_queue_page(request: HttpRequest) -> HttpResponse:
    """The pending exceptions the user may decide, oldest first; the decision itself is made on
    the deal page. Whoever may decide none gets the empty list and a sentence saying so."""
    return render(request, "funnel/exception_queue.html", {"queue": exception_queue(request.user)})


@require_POST
def exception_request(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    form = ExceptionRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the exception."))
    else:
        try:
            exception = services.exception_request(deal=deal, by=request.user, reason=form.cleaned_data["reason"])
        except NotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, exception_requested_message(exception, deal))
    return redirect(f"{deal_url(deal)}#terms")


def exception_requested_message(exception, deal) -> str:
    names = ", ".join(str(user) for user in deciders(exception, deal))
    if not names:
        return _(
            "Exception requested, but nobody else may decide on it yet: ask an admin to let another team "
            "manager or a risk officer decide exceptions."
        )
    return _("Exception requested. Who may decide on it: %(names)s.") % {"names": names}


@require_POST
def exception_decide(request: HttpRequest, deal_code, exception_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code)
    exception = get_object_or_404(deal.exceptions.all(), code=exception_code)
    # The page offers no buttons to whoever may not decide; the service judges again under the
    # deal's row lock, which is what counts.
    if exception.status == ExceptionStatus.PENDING and decide_refusal(request.user, exception, deal):
        raise PermissionDenied
    form = ExceptionDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return redirect(f"{deal_url(deal)}#terms")
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.exception_decide(exception=exception, by=request.user, approve=approve, note=form.cleaned_data["note"])
    except NotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Exception approved.") if approve else _("Exception rejected."))
    return redirect(f"{deal_url(deal)}#terms")
