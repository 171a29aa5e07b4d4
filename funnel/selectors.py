"""Reads for the deal pages: everything a page shows, fetched in a fixed number of queries."""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from customers.models import TierPolicy
from funnel.deciders import decidable_by, deciders
from funnel.gates import gate_problems, terms_outside_policy
from funnel.models import (
    OPEN_STAGES,
    RANK,
    ChecklistCheck,
    ChecklistItem,
    Deal,
    ExceptionStatus,
    Stage,
    StageMove,
    StageSetting,
    TermsException,
)
from funnel.services import gate_context


@dataclass
class ChecklistLine:
    item: ChecklistItem
    check: ChecklistCheck | None


@dataclass
class ExceptionEvent:
    """A terms exception asked for or decided, as a line of the deal's timeline. The request's
    row is the record (who asked, who decided, when, the note); nothing is copied."""

    kind: str  # "requested", "approved" or "rejected"
    exception: TermsException
    by: object
    at: datetime.datetime
    note: str


def exception_events(exceptions: list[TermsException]) -> list[ExceptionEvent]:
    events = []
    for exc in exceptions:
        events.append(ExceptionEvent("requested", exc, exc.requested_by, exc.requested_at, exc.reason))
        if exc.status != ExceptionStatus.PENDING and exc.decided_at is not None:
            events.append(ExceptionEvent(exc.status, exc, exc.decided_by, exc.decided_at, exc.decision_note))
    return events


def timeline_of(moves: list[StageMove], exceptions: list[TermsException]) -> list:
    """Moves and exception events, newest first (moves keep their own order on a tie)."""
    for move in moves:
        move.kind = "move"
    return sorted([*moves, *exception_events(exceptions)], key=lambda entry: entry.at, reverse=True)


def is_overdue(deal: Deal, settings: dict[str, StageSetting], now: datetime.datetime) -> bool:
    setting = settings.get(deal.stage)
    return setting is not None and setting.is_overdue(deal.days_in_stage(now))


def next_stage(stage: str) -> str | None:
    """The next layer forward, if the deal is open and not yet approved."""
    if stage not in OPEN_STAGES or stage == Stage.APPROVED:
        return None
    rank = RANK[Stage(stage)] + 1
    return next(s for s, r in RANK.items() if r == rank)


def deal_page(deal: Deal) -> dict:
    now = timezone.now()
    settings = StageSetting.objects.by_stage()
    checks = {c.item_id: c for c in ChecklistCheck.objects.filter(deal=deal).select_related("checked_by")}
    items = ChecklistItem.objects.filter(is_active=True) | ChecklistItem.objects.filter(pk__in=checks.keys())
    checklist = [ChecklistLine(item, checks.get(item.pk)) for item in items.distinct().order_by("order", "id")]
    policy = TierPolicy.objects.filter(tier=deal.customer.tier).first()
    exceptions = list(deal.exceptions.select_related("requested_by", "decided_by"))
    timeline = list(deal.moves.select_related("by"))
    for move in timeline:  # the names admins gave the stages, as on the board
        move.from_label = settings[move.from_stage].label if move.from_stage in settings else ""
        move.to_label = settings[move.to_stage].label if move.to_stage in settings else move.to_stage
    pending = next((e for e in exceptions if e.status == ExceptionStatus.PENDING), None)
    upcoming = next_stage(deal.stage)
    readiness = None
    if upcoming:
        ctx = gate_context(deal)
        readiness = {
            "stage": settings.get(upcoming),
            "problems": gate_problems(deal, deal.customer, deal.stage, upcoming, ctx),
        }
    return {
        "settings": settings,
        "stage": settings.get(deal.stage),
        "overdue": is_overdue(deal, settings, now),
        "days_in_stage": deal.days_in_stage(now),
        "timeline": timeline_of(timeline, exceptions),
        "checklist": checklist,
        "checklist_done": all(line.check for line in checklist if line.item.is_active),
        "documents": list(deal.documents.select_related("added_by")),
        "exceptions": exceptions,
        "pending_exception": pending,
        # Named on the page beside the request: who may decide it (funnel.deciders).
        "deciders": list(deciders(pending, deal)) if pending else [],
        "exception_covers": any(e.covers(deal) for e in exceptions),
        "policy": policy,
        "terms_problems": terms_outside_policy(deal, deal.customer, policy) if deal.is_open else [],
        "readiness": readiness,
    }


# --- The exception queue ------------------------------------------------------------------------
QUEUE_HOME_LIMIT = 5  # the home card shows the oldest few; the queue shows them all


def exception_queue(user, *, limit: int | None = None) -> list[TermsException]:
    """The pending exceptions ``user`` may decide (funnel.deciders.decidable_by), oldest first:
    they have waited longest. One query, whatever their number."""
    queue = decidable_by(user).select_related("deal__customer", "requested_by").order_by("requested_at", "id")
    return list(queue[:limit] if limit is not None else queue)


def home_exceptions(user) -> dict:
    """The home page's card: how many wait for the user, and the oldest few. One query for
    everyone who has nothing to decide (most people), two for whoever has."""
    count = decidable_by(user).count()
    return {
        "exceptions_waiting": count,
        "waiting_exceptions": exception_queue(user, limit=QUEUE_HOME_LIMIT) if count else [],
    }
