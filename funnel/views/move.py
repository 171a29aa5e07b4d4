"""What happens when a deal moves: the move form on the deal page and the board's drop target
are one view, so a drop and a form post meet the same gates, the same four eyes and the same
409 for a stale stage."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from funnel import services
from funnel.access import access_deal
from funnel.exceptions import GateNotMet, StaleDeal
from funnel.forms import (
    MoveForm,
)
from funnel.models import Deal, Stage, StageSetting


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
