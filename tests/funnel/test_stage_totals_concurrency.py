"""Two people (the RM and their manager) move deals of the same RM at the same moment, in
opposite directions between the same two stages: both moves land, neither transaction
deadlocks, and the totals count both.

Each move's trigger upserts the totals of (rm1, East, Preliminary) and (rm1, East, Prospect). The
race is made to happen by holding the first of those rows locked in the test thread until both
movers are seen queued behind it. Both must queue there holding nothing: each trigger writes
its rows in the key's order, so neither can have taken the second row and wait for the first
while the other holds the first and waits for the second (a deadlock). The test proves it by
locking the second row itself, without waiting, while they queue. When it lets go, the second
mover's upsert adds to the first one's committed figures: no update is lost.

On SQLite a writer holds the whole database (see test_move_concurrency.py): the test holds it,
both movers queue behind it, and both moves must still land and be counted; there are no row
locks whose order could be wrong."""

import threading

import pytest
from django.db import connection, connections, transaction

from funnel import services
from funnel.models import Deal, Stage, StageTotal
from tests.conftest import stage_totals_kept, stage_totals_live
from tests.factories import DealFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_two_moves_between_the_same_stages_neither_deadlock_nor_lose_a_count(deal, rm1, manager, lock_waiters):
    backward = DealFactory(customer=deal.customer, stage=Stage.PRELIMINARY, probability=30)
    key = {"owner_id": rm1.pk, "team_id": rm1.team_id}
    moves = {
        rm1: {"deal": deal, "seen_stage": Stage.PROSPECT, "to_stage": Stage.PRELIMINARY},
        manager: {"deal": backward, "seen_stage": Stage.PRELIMINARY, "to_stage": Stage.PROSPECT},
    }
    outcome: dict = {}

    def attempt(user, kwargs):
        try:
            outcome[user] = services.deal_move(by=user, **kwargs)
        except Exception as exc:  # judged below
            outcome[user] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=item) for item in moves.items()]
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():  # on SQLite BEGIN IMMEDIATE: the test holds the write lock
        if postgres:
            # "preliminary" < "prospect": the first of the two rows in the key's order.
            StageTotal.objects.select_for_update().get(**key, stage=Stage.PRELIMINARY)
        for t in threads:
            t.start()
        lock_waiters.wait(len(moves))
        if postgres:
            # Both wait for the first row and neither took the second: it is free.
            StageTotal.objects.select_for_update(nowait=True).get(**key, stage=Stage.PROSPECT)
        assert not outcome
        lock_waiters.letting_go()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    lock_waiters.assert_waited()

    assert all(isinstance(result, Deal) for result in outcome.values()), outcome
    assert Deal.objects.get(pk=deal.pk).stage == Stage.PRELIMINARY
    assert Deal.objects.get(pk=backward.pk).stage == Stage.PROSPECT
    kept = stage_totals_kept()
    assert kept == stage_totals_live()
    assert kept[(rm1.pk, rm1.team_id, Stage.PROSPECT)][0] == 1
    assert kept[(rm1.pk, rm1.team_id, Stage.PRELIMINARY)][0] == 1
