"""Writes to deals. Each function is one business action in one transaction."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.jobs import job_request
from crm.services import fields_changed, model_update
from customers.models import Customer, TierPolicy
from customers.services import customer_funded
from funnel import tasks
from funnel.deciders import decide_refusal, deciders
from funnel.exceptions import GateNotMet, NotAllowed, StaleDeal
from funnel.gates import GateContext, WaitingException, funding_ceiling, gate_problems, terms_outside_policy
from funnel.models import (
    OPEN_STAGES,
    RANK,
    ChecklistCheck,
    ChecklistItem,
    Deal,
    DealDocument,
    ExceptionStatus,
    LostReason,
    Stage,
    StageMove,
    StageSetting,
    TermsException,
)
from funnel.signals import deal_funded

EDITABLE_FIELDS = (
    "title",
    "project_type",
    "amount",
    "purpose",
    "expected_close",
    "probability",
    "spread_bps",
    "collateral_coverage",
    "proposed_limit",
)
TERMS_FIELDS = ("spread_bps", "collateral_coverage", "proposed_limit")
# What an approval fixes: the terms and the amount they were judged against. Once a deal is
# Approved these are refused by deal_update, the one writer of a deal's fields (the deal page,
# Django admin and the tests all go through it): to change them, the deal goes back to Due
# diligence by a recorded move and through the Approved gate again.
FROZEN_FIELDS = ("amount", *TERMS_FIELDS)


@dataclass(frozen=True)
class Funding:
    """What the user states when a deal is funded; it becomes the facility."""

    amount: Decimal
    start_date: datetime.date
    maturity_date: datetime.date | None = None


def proposed_terms(customer: Customer, amount: Decimal | None) -> dict[str, Any]:
    """Terms to start from: the customer's tier policy, the limit capped by its credit limit."""
    policy = TierPolicy.objects.filter(tier=customer.tier).first()
    if policy is None:
        return {}
    limit = amount
    if amount is not None and customer.credit_limit is not None:
        limit = min(amount, customer.credit_limit)
    return {
        "spread_bps": policy.spread_bps,
        "collateral_coverage": policy.collateral_coverage,
        "proposed_limit": limit,
    }


def deal_create(*, by, customer: Customer, **fields: Any) -> Deal:
    """A new deal in Prospect identified. Its relationship manager and team are the
    customer's (reassigning the customer moves its deals along)."""
    data = {k: v for k, v in fields.items() if k in EDITABLE_FIELDS}
    for name, value in proposed_terms(customer, data.get("amount")).items():
        if data.get(name) is None:
            data[name] = value
    if data.get("probability") is None:
        setting = StageSetting.objects.filter(stage=Stage.PROSPECT).first()
        data["probability"] = setting.probability if setting else 10
    now = timezone.now()
    with transaction.atomic():
        deal = Deal.objects.create(
            customer=customer,
            owner_id=customer.owner_id,
            team_id=customer.team_id,
            created_by=by,
            stage=Stage.PROSPECT,
            stage_entered_at=now,
            created_at=now,
            **data,
        )
        StageMove.objects.create(deal=deal, from_stage="", to_stage=Stage.PROSPECT, by=by, at=now)
    return deal


def deal_update(*, deal: Deal, by, **fields: Any) -> list[str]:
    """Apply changed fields; return their names. Closed deals are history, and an approved
    deal's terms are the ones that were approved. The relationship manager is not a field
    here: it is the customer's."""
    with transaction.atomic():
        _lock_current_stage(deal)
        if not deal.is_open:
            raise NotAllowed(_("A closed deal cannot be edited."))
        # Judged before anything is set: a refused edit leaves the caller's deal as it was.
        if deal.stage == Stage.APPROVED and fields_changed(instance=deal, fields=FROZEN_FIELDS, data=fields):
            raise NotAllowed(
                _("The terms of an approved deal are fixed. Move it back to Due diligence to change them.")
            )
        changed = model_update(instance=deal, fields=EDITABLE_FIELDS, data=fields)
        if changed:
            deal.save(update_fields=[*changed, "updated_at"])
    return changed


def _lock_current_stage(deal: Deal) -> None:
    """Lock the deal row and judge the stage it is in now, not the one the caller loaded: a move
    to Approved or Lost a moment ago fixes the terms and the checklist. deal_move takes the same
    lock before it checks the gates, so an edit and a move never interleave."""
    deal.stage = Deal.objects.select_for_update().values_list("stage", flat=True).get(pk=deal.pk)


def gate_context(deal: Deal, *, today: datetime.date | None = None) -> GateContext:
    missing = list(
        ChecklistItem.objects.filter(is_active=True)
        .exclude(pk__in=ChecklistCheck.objects.filter(deal=deal).values("item_id"))
        .order_by("order", "id")
    )
    exceptions = list(
        TermsException.objects.filter(deal=deal, status__in=[ExceptionStatus.APPROVED, ExceptionStatus.PENDING])
    )
    pending = next((e for e in exceptions if e.status == ExceptionStatus.PENDING), None)
    waiting = None
    if pending is not None:  # one more query, only while a request waits
        waiting = WaitingException(since=pending.requested_at, deciders=[str(u) for u in deciders(pending, deal)])
    return GateContext(
        today=today or timezone.localdate(),
        policies={p.tier: p for p in TierPolicy.objects.all()},
        missing_checklist=[item.localized_name for item in missing],
        exception_covers_terms=any(e.covers(deal) for e in exceptions),
        waiting_exception=waiting,
    )


def deal_move(
    *,
    deal: Deal,
    to_stage: str,
    seen_stage: str,
    by,
    note: str = "",
    lost_reason: str = "",
    funding: Funding | None = None,
) -> Deal:
    """Move the deal from the stage the user saw to ``to_stage``.

    The move is a conditional ``UPDATE … WHERE stage = <seen stage>``: a board loaded minutes
    ago, or two people dropping the same card at once, cannot overwrite a newer move. Exactly
    one of two racing moves updates the row; the other gets ``StaleDeal`` naming who moved it
    (it waits on the row lock of its first read and then finds the deal moved; the condition on
    the UPDATE stays as the guard). Gates are checked against fresh data inside the same
    transaction."""
    to_stage = Stage(to_stage)
    with transaction.atomic():
        # The row lock keeps the deal's terms and checklist (written under the same lock by
        # deal_update and checklist_set) as the gates see them until the move commits. On SQLite
        # BEGIN IMMEDIATE already serialises writers and FOR UPDATE is left out.
        current = Deal.objects.select_for_update(of=("self",)).select_related("customer").get(pk=deal.pk)
        deal_check_seen(deal=current, seen_stage=seen_stage)
        # Whether the move is possible at all comes first: a funded deal "needs a lost reason"
        # or a prospect "needs a funded amount" would send the user after the wrong thing.
        ctx = gate_context(current)
        problems = gate_problems(current, current.customer, seen_stage, to_stage, ctx)
        if problems:
            raise GateNotMet(problems)
        # The reason is one of the choices (the admin shows lost_reason read-only; this is its only writer).
        if to_stage == Stage.LOST and lost_reason not in LostReason.values:
            raise GateNotMet([_("Say why the deal was lost.")])
        if to_stage == Stage.FUNDED:
            _check_funding(current, funding, ctx)

        now = timezone.now()
        setting = StageSetting.objects.filter(stage=to_stage).first()
        updates: dict[str, Any] = {
            "stage": to_stage,
            "stage_entered_at": now,
            "stale_since": None,
            "max_rank": Greatest(F("max_rank"), Value(RANK[to_stage])),
            "lost_reason": lost_reason if to_stage == Stage.LOST else "",
            "closed_at": now if to_stage in (Stage.FUNDED, Stage.LOST) else None,
            "updated_at": now,
        }
        if setting is not None:
            updates["probability"] = setting.probability
        if to_stage in (Stage.APPROVED, Stage.LOST):
            updates["screened_at"] = Coalesce(F("screened_at"), Value(now))
        won = Deal.objects.filter(pk=deal.pk, stage=seen_stage).update(**updates)
        if not won:
            # Someone else's move committed between our read and our write.
            raise _stale(Deal.objects.get(pk=deal.pk))
        # Our UPDATE holds the row lock, so the latest move is the one that put the deal where
        # we found it: its time is when the deal entered the stage it now leaves.
        entered = StageMove.objects.filter(deal_id=deal.pk).order_by("-at", "-id").first()
        days = (now - (entered.at if entered else current.stage_entered_at)).days
        StageMove.objects.create(
            deal_id=deal.pk,
            from_stage=seen_stage,
            to_stage=to_stage,
            by=by,
            at=now,
            note=note,
            days_in_from_stage=max(days, 0),
        )
        moved = Deal.objects.select_related("customer", "owner").get(pk=deal.pk)
        if to_stage == Stage.FUNDED:
            assert funding is not None  # _check_funding refused the move without it
            # A funded deal makes a prospect an active customer, in the move's transaction.
            customer_funded(customer=moved.customer, by=by)
            deal_funded.send(
                sender=Deal,
                deal=moved,
                by=by,
                amount=funding.amount,
                start_date=funding.start_date,
                maturity_date=funding.maturity_date,
            )
    return moved


def deal_check_seen(*, deal: Deal, seen_stage: str) -> None:
    """Raise ``StaleDeal`` if the deal, as the caller read it, has left the stage the user saw.

    deal_move makes this check on the row it has locked, and only that check decides whether a
    move lands. The move view makes it first on the deal it read, before it validates the form:
    a form or board loaded before someone else's move offers targets of a stage the deal has
    left, and "not a valid choice" would hide who moved the deal."""
    if deal.stage != seen_stage:
        raise _stale(deal)


def _stale(current: Deal) -> StaleDeal:
    last = StageMove.objects.filter(deal=current).select_related("by").order_by("-at", "-id").first()
    return StaleDeal(stage=current.stage, last_move=last)


def _check_funding(deal: Deal, funding: Funding | None, ctx: GateContext) -> None:
    """The funded amount against the ceiling, judged on the deal row deal_move has locked and
    the customer read in the same transaction (the Funded gate made sure there is a ceiling)."""
    if funding is None or funding.amount is None or funding.start_date is None:
        raise GateNotMet([_("Give the funded amount and the start date.")])
    problems = []
    ceiling = funding_ceiling(deal, deal.customer, ctx)
    if funding.amount <= 0:
        problems.append(_("The funded amount must be more than zero."))
    elif ceiling is None or funding.amount > ceiling:
        if ceiling is not None and ceiling == deal.proposed_limit:
            message = _("The funded amount is above the approved limit of %(limit)s CNY.")
        else:
            message = _(
                "The funded amount is above the customer's credit limit of %(limit)s CNY. Only an approved "
                "exception that names a higher limit allows more."
            )
        problems.append(message % {"limit": f"{ceiling or 0:,.2f}"})
    if funding.maturity_date is not None and funding.maturity_date <= funding.start_date:
        problems.append(_("The maturity date must be after the start date."))
    if problems:
        raise GateNotMet(problems)


def checklist_set(*, deal: Deal, item: ChecklistItem, by, done: bool, note: str = "") -> None:
    """Tick or untick one due-diligence item; ticking twice keeps the first tick."""
    with transaction.atomic():
        _lock_current_stage(deal)
        if not deal.is_open:
            raise NotAllowed(_("A closed deal cannot be changed."))
        if done:
            try:
                with transaction.atomic():
                    ChecklistCheck.objects.get_or_create(
                        deal=deal, item=item, defaults={"checked_by": by, "note": note}
                    )
            except IntegrityError:
                pass  # ticked by someone else a moment ago: the item is ticked, which is what was asked
        else:
            if deal.stage == Stage.APPROVED:
                raise NotAllowed(_("The checklist of an approved deal is closed."))
            ChecklistCheck.objects.filter(deal=deal, item=item).delete()


def document_add(*, deal: Deal, by, **fields: Any) -> DealDocument:
    allowed = {"kind", "title", "reference", "dated"}
    return DealDocument.objects.create(deal=deal, added_by=by, **{k: v for k, v in fields.items() if k in allowed})


def exception_request(*, deal: Deal, by, reason: str) -> TermsException:
    """Ask for approval of the deal's current terms outside the tier policy. The request states
    the terms as stored, read under the deal's row lock (an edit or a move cannot slip between
    the check and the record), and must state every one of them: an empty term would cover
    nothing (``TermsException.covers``)."""
    with transaction.atomic():
        current = Deal.objects.select_for_update(of=("self",)).select_related("customer").get(pk=deal.pk)
        if current.stage not in OPEN_STAGES or current.stage == Stage.APPROVED:
            raise NotAllowed(_("Exceptions are requested before approval."))
        policy = TierPolicy.objects.filter(tier=current.customer.tier).first()
        if not terms_outside_policy(current, current.customer, policy):
            raise NotAllowed(_("The terms are within the tier policy; no exception is needed."))
        if None in (current.spread_bps, current.collateral_coverage, current.proposed_limit):
            raise NotAllowed(
                _(
                    "Fill in the rate spread, the collateral coverage and the proposed limit first: "
                    "an exception covers only the terms it states."
                )
            )
        try:
            with transaction.atomic():
                exception = TermsException.objects.create(
                    deal=current,
                    spread_bps=current.spread_bps,
                    collateral_coverage=current.collateral_coverage,
                    proposed_limit=current.proposed_limit,
                    reason=reason,
                    requested_by=by,
                )
        except IntegrityError as exc:
            raise NotAllowed(_("An exception request for this deal is already waiting for a decision.")) from exc
        # In the same transaction: the deciders are told exactly when the request exists.
        job_request(tasks.exception_requested_notify, by=by, exception_id=exception.pk)
        return exception


def exception_decide(*, exception: TermsException, by, approve: bool, note: str = "") -> TermsException:
    """Approve or reject a pending request, four eyes (``funnel.deciders``): never by whoever
    asked for it or the deal's relationship manager, only by a holder of the decide permission
    who may see the deal.

    The rule is judged on the deal row locked as deal_move and deal_update lock it (the owner
    it names is current) and on the request as stored, not as the caller loaded it. The
    compare-and-set on the status keeps two deciders from both deciding it. The decision is the
    request's row (by whom, when, note); the deal's timeline shows it from there."""
    status = ExceptionStatus.APPROVED if approve else ExceptionStatus.REJECTED
    with transaction.atomic():
        deal = Deal.objects.select_for_update(of=("self",)).get(pk=exception.deal_id)
        stored = TermsException.objects.get(pk=exception.pk)
        if stored.status != ExceptionStatus.PENDING:
            raise NotAllowed(_("This request has already been decided."))
        refusal = decide_refusal(by, stored, deal)
        if refusal:
            raise NotAllowed(refusal)
        decided = TermsException.objects.filter(pk=exception.pk, status=ExceptionStatus.PENDING).update(
            status=status, decided_by=by, decided_at=timezone.now(), decision_note=note
        )
        if not decided:
            raise NotAllowed(_("This request has already been decided."))
    exception.refresh_from_db()
    return exception


def deals_flag_stale(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Mark open deals that are overdue in their stage (``StageSetting.is_overdue``: more than
    1.5 × its expected days), and unmark those that no longer are (an admin raised the days).
    Run twice, the second run changes nothing: each statement only touches rows whose flag is
    wrong."""
    now = now or timezone.now()
    flagged = cleared = 0
    for setting in StageSetting.objects.filter(stage__in=OPEN_STAGES):
        in_stage = Deal.objects.filter(stage=setting.stage)
        cutoff = setting.overdue_cutoff(now)
        if cutoff is None:
            cleared += in_stage.filter(stale_since__isnull=False).update(stale_since=None)
            continue
        flagged += in_stage.filter(stale_since__isnull=True, stage_entered_at__lte=cutoff).update(stale_since=now)
        cleared += in_stage.filter(stale_since__isnull=False, stage_entered_at__gt=cutoff).update(stale_since=None)
    return {"flagged": flagged, "cleared": cleared}
