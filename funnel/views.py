"""The deal pages: create, edit, detail, and the actions on a deal. Thin: access helper → form
→ one service call → redirect or render."""

import copy

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.access import access_customer
from funnel import services
from funnel.access import access_deal, can_work_deal, can_work_deals
from funnel.deciders import decide_refusal, deciders
from funnel.exceptions import GateNotMet, NotAllowed, StaleDeal
from funnel.forms import (
    ChecklistForm,
    DealForm,
    DocumentForm,
    ExceptionDecisionForm,
    ExceptionRequestForm,
    MoveForm,
)
from funnel.models import Deal, ExceptionStatus, Stage, StageSetting
from funnel.selectors import deal_page


@require_GET
def deal_detail(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code)
    context = {
        "deal": deal,
        "customer": deal.customer,
        "can_work": can_work_deal(request.user, deal),
        **deal_page(deal),
    }
    pending = context["pending_exception"]
    context["can_decide"] = pending is not None and decide_refusal(request.user, pending, deal) is None
    context["move_form"] = MoveForm(deal=deal, settings=context["settings"])
    context["document_form"] = DocumentForm()
    context["exception_form"] = ExceptionRequestForm()
    return render(request, "funnel/deal_detail.html", context)


@require_http_methods(["GET", "POST"])
def deal_create(request: HttpRequest) -> HttpResponse:
    if not can_work_deals(request.user):
        raise PermissionDenied
    customer = None
    if code := request.GET.get("customer"):
        try:
            customer = access_customer(request.user, code)  # missing or not theirs: 404
        except ValidationError as exc:  # not a UUID at all: the same answer
            raise Http404 from exc
    form = DealForm(request.POST or None, user=request.user, customer=customer)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        deal = services.deal_create(by=request.user, customer=data.pop("customer"), **data)
        first = StageSetting.objects.by_stage().get(deal.stage)
        messages.success(
            request,
            _("Deal %(title)s created in %(stage)s.")
            % {"title": deal.title, "stage": first.label if first else deal.get_stage_display()},
        )
        return redirect("funnel:detail", deal.code)
    return render(request, "funnel/deal_form.html", {"form": form, "deal": None, "customer": customer})


@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    if not deal.is_open:
        messages.info(request, _("A closed deal cannot be edited."))
        return redirect("funnel:detail", deal.code)
    # The ModelForm writes submitted values onto its instance while validating; give it a copy
    # so the service compares against what is stored.
    form = DealForm(request.POST or None, instance=copy.copy(deal), user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            changed = services.deal_update(deal=deal, by=request.user, **data)
        except NotAllowed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Changes saved.") if changed else _("Nothing was changed."))
            return redirect("funnel:detail", deal.code)
    return render(request, "funnel/deal_form.html", {"form": form, "deal": deal, "customer": deal.customer})


@require_http_methods(["GET", "POST"])
def deal_move(request: HttpRequest, deal_code) -> HttpResponse:
    """The move form (no JavaScript needed) and the board's drop target.

    Answers: 303 to the deal page (plain form) or the redrawn card (htmx) on success; 422 with
    the gates' reasons when evidence is missing; 409 naming who moved the deal when the stage
    the user saw is out of date, whatever the move asked for. The board's dialog names the stage
    its card showed (``?seen=``), so it hears the 409 before the details are filled in."""
    deal = access_deal(request.user, deal_code, for_update=True)
    settings = StageSetting.objects.by_stage()
    form = MoveForm(
        request.POST or None,
        deal=deal,
        settings=settings,
        to_stage=request.GET.get("to"),
        seen_stage=request.GET.get("seen"),
    )
    status = 200
    problems: list[str] = []
    conflict = None
    try:
        moved = _move(form, deal=deal, by=request.user)
    except GateNotMet as exc:
        problems, status = exc.problems, 422
    except StaleDeal as exc:
        conflict, status = exc, 409
    else:
        if moved is not None:
            return _moved(request, moved, settings)
        if form.is_bound:
            status = 422
    context = {
        "deal": deal,
        "customer": deal.customer,
        "form": form,
        "problems": problems,
        "conflict": conflict,
        "conflict_stage": settings.get(conflict.stage) if conflict else None,
        "settings": settings,
    }
    template = "funnel/deal_move.html"
    if request.htmx:
        # The board's dialog loads (and re-renders) the form alone; a refused drop straight onto
        # a column gets the explanation alone.
        template += "#move-form" if request.htmx.target == "move-modal-body" else "#refusal"
    return render(request, template, context, status=status)


def _move(form: MoveForm, *, deal: Deal, by) -> Deal | None:
    """Apply the move the form asks for; None when there is none to apply (the form alone was
    asked for, or it has errors to show).

    Whether the user saw the deal where it is comes first: their target and its details were
    chosen for that stage, and may be no move at all from the stage the deal is in now (Funded
    is closed; the column it already sits in is no target). deal_move checks again under the row
    lock, which is what settles a race."""
    seen_stage = form["seen_stage"].value()  # as posted, or as the dialog was asked for
    if seen_stage in Stage.values:
        services.deal_check_seen(deal=deal, seen_stage=seen_stage)
    if not form.is_bound or not form.is_valid():
        return None
    data = form.cleaned_data
    funding = None
    if data["to_stage"] == Stage.FUNDED:
        funding = services.Funding(
            amount=data["funded_amount"], start_date=data["start_date"], maturity_date=data["maturity_date"]
        )
    return services.deal_move(
        deal=deal,
        to_stage=data["to_stage"],
        seen_stage=data["seen_stage"],
        by=by,
        note=data["note"],
        lost_reason=data["lost_reason"],
        funding=funding,
    )


def _moved(request: HttpRequest, deal, settings) -> HttpResponse:
    stage = settings.get(deal.stage)
    label = stage.label if stage else Stage(deal.stage).label
    if not request.htmx:
        messages.success(request, _("Moved to %(stage)s.") % {"stage": label})
        return redirect("funnel:detail", deal.code)
    # The board redraws its columns on this event; the answer itself is the confirmation.
    response = render(request, "funnel/deal_move.html#moved", {"deal": deal, "stage_label": label})
    response["HX-Trigger"] = "deal-moved"
    response["HX-Retarget"] = "#board-feedback"  # also when the move came from the dialog
    response["HX-Reswap"] = "innerHTML"
    return response


@require_POST
def checklist_set(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    form = ChecklistForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That checklist item no longer exists."))
        return redirect("funnel:detail", deal.code)
    try:
        services.checklist_set(
            deal=deal, item=form.cleaned_data["item"], by=request.user, done=form.cleaned_data["done"]
        )
    except NotAllowed as exc:
        messages.error(request, str(exc))
    return redirect(f"{deal_url(deal)}#checklist")


def deal_url(deal) -> str:
    return reverse("funnel:detail", args=[deal.code])


@require_http_methods(["GET", "POST"])
def document_create(request: HttpRequest, deal_code) -> HttpResponse:
    deal = access_deal(request.user, deal_code, for_update=True)
    form = DocumentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.document_add(deal=deal, by=request.user, **form.cleaned_data)
        messages.success(request, _("Document recorded."))
        return redirect(f"{deal_url(deal)}#documents")
    return render(request, "funnel/document_form.html", {"deal": deal, "customer": deal.customer, "form": form})


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
