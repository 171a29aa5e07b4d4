"""Two people move the same card at the same moment, each from the stage they saw (Prospect):
exactly one move lands, the other is told who moved the deal and where.

The race is made deterministic by holding the deal's lock in the test thread until both movers
are queued behind it, then letting go:
- PostgreSQL: ``SELECT … FOR UPDATE`` on the deal row. Both movers queue on that row lock
  (deal_move reads the deal ``FOR UPDATE`` before checking the gates; its ``UPDATE … WHERE
  stage = 'prospect'`` would stop the second one too). The first to get the row commits; the
  second then reads the deal in its new stage and the service answers StaleDeal.
- SQLite: no row locks. The project opens every transaction with ``BEGIN IMMEDIATE``
  (``transaction_mode`` in config/settings.py), which takes the database write lock, so the test
  thread's open transaction holds both movers at their ``BEGIN`` (busy timeout 20 s). The
  second one in reads the deal only after the first committed and finds it moved."""

import sqlite3
import threading
import time

import pytest
from django.db import connection, connections, transaction

from funnel import services
from funnel.exceptions import NotAllowed, StaleDeal
from funnel.models import ChecklistItem, Deal, Stage, StageMove
from tests.factories import tick_all, to_due_diligence

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def hold_deal_lock(deal: Deal) -> None:
    """Inside an open transaction of the test thread, take the lock the movers will need."""
    if connection.vendor == "postgresql":
        Deal.objects.select_for_update().get(pk=deal.pk)
        return
    # transaction.atomic() already issued BEGIN IMMEDIATE: we hold the write lock. Prove it
    # from a second, impatient connection rather than trusting the setting.
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            probe.execute("BEGIN IMMEDIATE")
    finally:
        probe.close()


def wait_until_queued(count: int, threads: list[threading.Thread]) -> None:
    """Give the movers time to reach the lock. On PostgreSQL we can see them waiting."""
    if connection.vendor == "postgresql":
        deadline = time.monotonic() + 10
        with connections["default"].cursor() as cursor:
            while time.monotonic() < deadline:
                # Activity statistics are snapshotted once per transaction; we are inside one.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0] >= count:
                    return
                time.sleep(0.05)
        pytest.fail("the movers never queued behind the row lock")
    time.sleep(1.0)  # SQLite's busy handler gives no sign of waiting; a second is plenty
    assert all(t.is_alive() for t in threads), "a mover finished while the lock was held"


MOVES = {
    "preliminary": {"to_stage": Stage.PRELIMINARY, "note": "Report is in"},
    "due_diligence": {"to_stage": Stage.DUE_DILIGENCE, "note": "Straight to DD"},
    "lost": {"to_stage": Stage.LOST, "lost_reason": "competitor", "note": "Went elsewhere"},
}


@pytest.mark.parametrize(("first", "second"), [("preliminary", "lost"), ("preliminary", "due_diligence")])
def test_of_two_simultaneous_moves_exactly_one_wins(deal, rm1, rm2, first, second):
    movers = {rm1: MOVES[first], rm2: MOVES[second]}
    outcome: dict = {}
    start = threading.Barrier(len(movers) + 1)

    def attempt(user, kwargs):
        try:
            start.wait(10)
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
        start.wait(10)
        wait_until_queued(len(movers), threads)
        # Nothing got past the lock while we hold it.
        assert StageMove.objects.filter(deal=deal).count() == 1
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)

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
def test_an_edit_cannot_slip_in_between_the_gate_check_and_the_move(deal, rm1, rm2, monkeypatch, edit, refusal):
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
    editor.join(1.0)
    edited_meanwhile = not editor.is_alive()
    carry_on.set()
    mover.join(30)
    editor.join(30)
    assert not mover.is_alive() and not editor.is_alive()

    assert not edited_meanwhile, "the edit went through while the move was checking the gates"
    assert isinstance(outcome["move"], Deal), outcome
    assert isinstance(outcome["edit"], NotAllowed), outcome
    assert str(outcome["edit"]).startswith(refusal)
    deal.refresh_from_db()
    assert (deal.stage, deal.spread_bps) == (Stage.APPROVED, 80)
    assert deal.checks.count() == ChecklistItem.objects.filter(is_active=True).count()
