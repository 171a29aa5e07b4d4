"""Two people move the same card at the same moment, each from the stage they saw (Prospect):
exactly one move lands, the other is told who moved the deal and where.

The race is made deterministic by holding the deal's lock in the test thread until both movers
are seen queued behind it (the ``lock_waiters`` fixture), then letting go:
- PostgreSQL: ``SELECT … FOR UPDATE`` on the deal row. Both movers queue on that row lock
  (deal_move reads the deal ``FOR UPDATE`` before checking the gates; its ``UPDATE … WHERE
  stage = 'prospect'`` would stop the second one too). The first to get the row commits; the
  second then reads the deal in its new stage and the service answers StaleDeal.
- SQLite: no row locks. The project opens every transaction with ``BEGIN IMMEDIATE``
  (``transaction_mode`` in config/settings.py), which takes the database write lock, so the test
  thread's open transaction holds both movers at their ``BEGIN`` (busy timeout 20 s). The
  second one in reads the deal only after the first committed and finds it moved.
Afterwards the test checks that no mover got past the lock before it was let go."""

import threading

import pytest
from django.db import connection, connections, transaction

from funnel import services
from funnel.exceptions import NotAllowed, StaleDeal
from funnel.models import ChecklistItem, Deal, Stage, StageMove
from tests.factories import tick_all, to_due_diligence

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def hold_deal_lock(deal: Deal) -> None:
    """Inside an open transaction of the test thread, take the lock the movers will need. On
    SQLite, transaction.atomic() already issued BEGIN IMMEDIATE: the test holds the write lock."""
    if connection.vendor == "postgresql":
        Deal.objects.select_for_update().get(pk=deal.pk)


MOVES = {
    "preliminary": {"to_stage": Stage.PRELIMINARY, "note": "Report is in"},
    "due_diligence": {"to_stage": Stage.DUE_DILIGENCE, "note": "Straight to DD"},
    "lost": {"to_stage": Stage.LOST, "lost_reason": "competitor", "note": "Went elsewhere"},
}


@pytest.mark.parametrize(("first", "second"), [("preliminary", "lost"), ("preliminary", "due_diligence")])
def test_of_two_simultaneous_moves_exactly_one_wins(deal, rm1, rm2, lock_waiters, first, second):
    movers = {rm1: MOVES[first], rm2: MOVES[second]}
    outcome: dict = {}

    def attempt(user, kwargs):
        try:
            outcome[user] = services.deal_move(
                deal=Deal.objects.get(pk=deal.pk), seen_stage=Stage.PROSPECT, by=user, **kwargs
            )
        except Exception as exc:  # judged below
            outcome[user] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=item) for item in movers.items()]
    with transaction.atomic():
        hold_deal_lock(deal)
        for t in threads:
            t.start()
        lock_waiters.wait(len(movers))
        # Nothing got past the lock while we hold it.
        assert StageMove.objects.filter(deal=deal).count() == 1
        lock_waiters.letting_go()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    lock_waiters.assert_waited()

    winners = [user for user, result in outcome.items() if isinstance(result, Deal)]
    losers = [user for user, result in outcome.items() if isinstance(result, StaleDeal)]
    assert len(winners) == 1 and len(losers) == 1, outcome
    winner, loser = winners[0], losers[0]
    target = movers[winner]["to_stage"]

    stale = outcome[loser]
    assert stale.stage == target
    assert stale.last_move.by == winner
    assert (stale.last_move.from_stage, stale.last_move.to_stage) == (Stage.PROSPECT, target)

    deal.refresh_from_db()
    assert deal.stage == target
    assert deal.lost_reason == movers[winner].get("lost_reason", "")
    moves = list(StageMove.objects.filter(deal=deal).order_by("at", "id"))
    assert [(m.from_stage, m.to_stage, m.by) for m in moves] == [
        ("", Stage.PROSPECT, rm1),
        (Stage.PROSPECT, target, winner),
    ]
    assert moves[-1].note == movers[winner]["note"]


def change_terms(deal_pk: int, by) -> None:
    services.deal_update(deal=Deal.objects.get(pk=deal_pk), by=by, spread_bps=40)


def untick_site_visit(deal_pk: int, by) -> None:
    item = ChecklistItem.objects.get(name="Site visit completed and documented")
    services.checklist_set(deal=Deal.objects.get(pk=deal_pk), item=item, by=by, done=False)


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (change_terms, "The terms of an approved deal are fixed."),
        (untick_site_visit, "The checklist of an approved deal is closed."),
    ],
    ids=["terms", "checklist"],
)
def test_an_edit_cannot_slip_in_between_the_gate_check_and_the_move(
    deal, rm1, rm2, lock_waiters, monkeypatch, edit, refusal
):
    """rm1 approves the deal; while the service checks the gates, rm2 submits an edit that would
    have failed them. The edit waits for the move and is then refused: the deal is never
    Approved on terms or a checklist nobody checked."""
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    gates_checked, carry_on = threading.Event(), threading.Event()
    real_gate_context = services.gate_context

    def gate_context_then_pause(*args, **kwargs):
        context = real_gate_context(*args, **kwargs)
        gates_checked.set()
        carry_on.wait(10)
        return context

    monkeypatch.setattr(services, "gate_context", gate_context_then_pause)
    outcome: dict = {}

    def run(name, action):
        try:
            outcome[name] = action()
        except Exception as exc:  # judged below
            outcome[name] = exc
        finally:
            connections.close_all()

    mover = threading.Thread(
        target=run,
        args=(
            "move",
            lambda: services.deal_move(
                deal=Deal.objects.get(pk=deal.pk), to_stage=Stage.APPROVED, seen_stage=Stage.DUE_DILIGENCE, by=rm1
            ),
        ),
    )
    editor = threading.Thread(target=run, args=("edit", lambda: edit(deal.pk, rm2)))
    mover.start()
    assert gates_checked.wait(10)
    editor.start()
    try:
        lock_waiters.wait(1)  # the edit queues behind the move's lock
        edited_meanwhile = "edit" in outcome
    finally:
        lock_waiters.letting_go()
        carry_on.set()
    mover.join(30)
    editor.join(30)
    assert not mover.is_alive() and not editor.is_alive()
    lock_waiters.assert_waited()

    assert not edited_meanwhile, "the edit went through while the move was checking the gates"
    assert isinstance(outcome["move"], Deal), outcome
    assert isinstance(outcome["edit"], NotAllowed), outcome
    assert str(outcome["edit"]).startswith(refusal)
    deal.refresh_from_db()
    assert (deal.stage, deal.spread_bps) == (Stage.APPROVED, 80)
    assert deal.checks.count() == ChecklistItem.objects.filter(is_active=True).count()
