"""The evidence each stage asks for, as plain rules over a deal and what is known about it.

``gate_problems`` returns the reasons a move cannot happen, each a sentence the relationship
manager can act on; an empty list means the move may go ahead. Nothing here writes."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from customers.models import Customer, Tier, TierPolicy
from funnel.models import OPEN_STAGES, RANK, Deal, Stage


@dataclass
class WaitingException:
    """A pending exception request: since when, and who may decide it (``funnel.deciders``)."""

    since: datetime.datetime
    deciders: list[str]


@dataclass
class GateContext:
    """What the gates read besides the deal, loaded once per move (or once per board)."""

    today: datetime.date
    policies: dict[str, TierPolicy]
    missing_checklist: list[str] = field(default_factory=list)
    exception_covers_terms: bool = False
    waiting_exception: WaitingException | None = None


def allowed_targets(stage: str) -> list[str]:
    """Where a deal in ``stage`` may be moved at all (gates aside)."""
    if stage == Stage.FUNDED:
        return []  # a facility exists; the deal is history
    if stage == Stage.LOST:
        return list(OPEN_STAGES)  # a lost deal can be reopened
    targets = [s for s in OPEN_STAGES if s != stage] + [Stage.LOST]
    if stage == Stage.APPROVED:
        targets.append(Stage.FUNDED)
    return targets


def transition_problem(from_stage: str, to_stage: str) -> str | None:
    if to_stage == from_stage:
        return _("The deal is already in this stage.")
    if to_stage not in allowed_targets(from_stage):
        if from_stage == Stage.FUNDED:
            return _("A funded deal is closed and cannot be moved.")
        if to_stage == Stage.FUNDED:
            return _("Only an approved deal can be funded.")
        return _("This move is not possible.")
    return None


def stages_entered(from_stage: str, to_stage: str) -> list[str]:
    """The gated stages a move passes into: a forward jump must meet every gate on the way;
    backward moves and Lost need no evidence."""
    if to_stage == Stage.LOST:
        return []
    start = 0 if from_stage == Stage.LOST else RANK[Stage(from_stage)]
    end = RANK[Stage(to_stage)]
    return [s for s in (*OPEN_STAGES, Stage.FUNDED) if start < RANK[s] <= end]


def gate_problems(deal: Deal, customer: Customer, from_stage: str, to_stage: str, ctx: GateContext) -> list[str]:
    problem = transition_problem(from_stage, to_stage)
    if problem:
        return [problem]
    problems: list[str] = []
    for stage in stages_entered(from_stage, to_stage):
        problems += STAGE_GATES.get(stage, _no_gate)(deal, customer, ctx)
    return problems


def _no_gate(deal, customer, ctx) -> list[str]:
    return []


def _policy(customer: Customer, ctx: GateContext) -> TierPolicy | None:
    return ctx.policies.get(customer.tier)


def _preliminary(deal: Deal, customer: Customer, ctx: GateContext) -> list[str]:
    """Layer 2 works from a recent credit report and the financial statements."""
    problems = []
    policy = _policy(customer, ctx)
    max_age = policy.max_data_age_days if policy else 365
    oldest = ctx.today - datetime.timedelta(days=max_age)
    if customer.credit_report_date is None:
        problems.append(
            _("Preliminary assessment needs a credit report on %(customer)s. Add one on the customer's page.")
            % {"customer": customer.name}
        )
    elif customer.credit_report_date < oldest:
        problems.append(
            _(
                "The latest credit report (%(date)s) is older than %(days)s days. "
                "Add a report dated %(oldest)s or later."
            )
            % {
                "date": date_format(customer.credit_report_date, "SHORT_DATE_FORMAT"),
                "days": max_age,
                "oldest": date_format(oldest, "SHORT_DATE_FORMAT"),
            }
        )
    if customer.statement_date is None:
        problems.append(
            _("Preliminary assessment needs a financial statement on %(customer)s. Add one on the customer's page.")
            % {"customer": customer.name}
        )
    return problems


def _due_diligence(deal: Deal, customer: Customer, ctx: GateContext) -> list[str]:
    """Layer 3 only for graded customers; tier B must bring the collateral its policy asks."""
    if customer.tier == Tier.UNRATED:
        return [
            _("Due diligence needs a graded customer; %(customer)s is Unrated. Complete its data so it can be graded.")
            % {"customer": customer.name}
        ]
    policy = _policy(customer, ctx)
    if customer.tier == Tier.B and policy is not None:
        required = policy.collateral_coverage
        if deal.collateral_coverage is None or deal.collateral_coverage < required:
            return [
                _(
                    "A tier B customer's deal needs collateral coverage of at least %(required)s%% "
                    "(the deal proposes %(proposed)s)."
                )
                % {
                    "required": required,
                    "proposed": f"{deal.collateral_coverage}%" if deal.collateral_coverage is not None else _("none"),
                }
            ]
    return []


def terms_outside_policy(deal: Deal, customer: Customer, policy: TierPolicy | None) -> list[str]:
    """Where the proposed terms are better for the customer than its tier policy allows."""
    if policy is None:
        return [_("There is no tier policy for this customer's tier.")]
    problems = []
    if deal.spread_bps is None or deal.spread_bps < policy.spread_bps:
        problems.append(
            _("The rate spread must be at least %(policy)s bp for %(tier)s (proposed: %(proposed)s).")
            % {"policy": policy.spread_bps, "tier": Tier(customer.tier).label, "proposed": _bp(deal.spread_bps)}
        )
    if deal.collateral_coverage is None or deal.collateral_coverage < policy.collateral_coverage:
        problems.append(
            _("Collateral coverage must be at least %(policy)s%% for %(tier)s (proposed: %(proposed)s).")
            % {
                "policy": policy.collateral_coverage,
                "tier": Tier(customer.tier).label,
                "proposed": _percent(deal.collateral_coverage),
            }
        )
    limit = customer.credit_limit
    if deal.proposed_limit is None:
        problems.append(_("The deal has no proposed limit."))
    elif limit is not None and deal.proposed_limit > limit:
        problems.append(
            _("The proposed limit is above the customer's credit limit of %(limit)s CNY.") % {"limit": f"{limit:,.2f}"}
        )
    return problems


def _bp(value) -> str:
    return _("none") if value is None else _("%(value)s bp") % {"value": value}


def _percent(value) -> str:
    return _("none") if value is None else f"{value}%"


def _approved(deal: Deal, customer: Customer, ctx: GateContext) -> list[str]:
    problems = []
    if ctx.missing_checklist:
        problems.append(
            _("The due-diligence checklist is not complete. Still open: %(items)s.")
            % {"items": "; ".join(ctx.missing_checklist)}
        )
    outside = terms_outside_policy(deal, customer, _policy(customer, ctx))
    if outside and not ctx.exception_covers_terms:
        problems += outside
        problems.append(_waiting_sentence(ctx.waiting_exception))
    return problems


def _waiting_sentence(waiting: WaitingException | None) -> str:
    """What to do about terms outside the policy: ask for an exception, or, once asked, whom it
    waits for (so nobody asks a team manager who has already been asked)."""
    if waiting is None:
        return _("Change the terms, or ask a team manager to approve an exception for these terms.")
    when = date_format(localtime(waiting.since), "SHORT_DATETIME_FORMAT")
    if not waiting.deciders:
        return _(
            "An exception was requested on %(when)s, but nobody may decide it yet: an admin must let "
            "another team manager or a risk officer decide exceptions."
        ) % {"when": when}
    return _("Waiting for a decision from %(names)s since %(when)s.") % {
        "names": ", ".join(waiting.deciders),
        "when": when,
    }


def funding_ceiling(deal: Deal, customer: Customer, ctx: GateContext) -> Decimal | None:
    """The most a funded deal may lend; None when nothing may be lent.

    The smaller of the customer's credit limit (as it stands now: a re-grade since approval
    counts) and the limit the deal was approved with. Only an approved exception that names the
    deal's limit raises the ceiling above the credit limit, and only to that limit: ``covers``
    compares the exception's stated limit with the deal's, and an empty limit covers nothing."""
    limit = deal.proposed_limit
    if limit is None:
        return None
    if ctx.exception_covers_terms:
        return limit
    if customer.credit_limit is None:
        return None
    return min(limit, customer.credit_limit)


def _funded(deal: Deal, customer: Customer, ctx: GateContext) -> list[str]:
    """Something must be lendable: an approved limit, and a credit limit (or an exception that
    names the limit). How much is checked against ``funding_ceiling`` with the funded amount."""
    if deal.proposed_limit is None:
        return [_("The deal has no approved limit. Move it back to Due diligence and set its proposed limit.")]
    if funding_ceiling(deal, customer, ctx) is None:
        return [
            _("%(customer)s has no credit limit, so nothing can be funded until it is graded.")
            % {"customer": customer.name}
        ]
    return []


STAGE_GATES = {
    Stage.PRELIMINARY: _preliminary,
    Stage.DUE_DILIGENCE: _due_diligence,
    Stage.APPROVED: _approved,
    Stage.FUNDED: _funded,
}
