"""Two people drop the same card at the same moment: two real HTTP requests to the running
server. Exactly one move is applied; the other person is told who moved the deal and where.

The race is made certain rather than hoped for: the test holds the deal's row (PostgreSQL:
SELECT … FOR UPDATE; SQLite: the database write lock) while both requests arrive, so both have
read the deal in Prospect identified and wait at their write; then it lets go."""

import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.test import Client

from funnel import services
from funnel.models import Deal, StageMove
from tests.factories import ensure_shipped_data
from tests.funnel.conftest import graded

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CSRF = "k" * 32  # any 32-character token: Django compares the cookie with the header


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def post_move(base: str, deal: Deal, cookie: str, data: dict, results: list, who: str) -> None:
    body = "&".join(f"{k}={v}" for k, v in data.items()).encode()
    request = urllib.request.Request(  # noqa: S310 - the live test server, http only
        f"{base}/funnel/deals/{deal.code}/move/",
        data=body,
        headers={
            "Cookie": f"sessionid={cookie}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
            "HX-Request": "true",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            results.append((who, response.status, response.read().decode()))
    except urllib.error.HTTPError as error:
        results.append((who, error.code, error.read().decode()))
    finally:
        connections.close_all()


def test_two_simultaneous_moves_one_wins_the_other_is_told_who(live_server, rm1, manager):
    ensure_shipped_data()
    customer = graded({"owner": rm1, "team": rm1.team, "name": "华东光伏电站项目有限公司"})
    deal = services.deal_create(
        by=rm1, customer=customer, title="光伏电站二期融资", project_type="renewable", amount=Decimal("80000000")
    )
    cookies = {"rm1": session_cookie(rm1), "manager": session_cookie(manager)}
    results: list = []
    threads = [
        threading.Thread(
            target=post_move,
            args=(
                live_server.url,
                deal,
                cookies["rm1"],
                {"seen_stage": "prospect", "to_stage": "preliminary"},
                results,
                "rm1",
            ),
        ),
        threading.Thread(
            target=post_move,
            args=(
                live_server.url,
                deal,
                cookies["manager"],
                {"seen_stage": "prospect", "to_stage": "lost", "lost_reason": "competitor"},
                results,
                "manager",
            ),
        ),
    ]
    with transaction.atomic():
        Deal.objects.select_for_update().filter(pk=deal.pk).exists()
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # both requests are in, waiting for the row
        assert results == []
    for thread in threads:
        thread.join(30)

    assert sorted(status for _, status, _ in results) == [200, 409]
    winner = next(who for who, status, _ in results if status == 200)
    loser_body = next(body for _, status, body in results if status == 409)
    deal.refresh_from_db()
    winner_user, stage_label = {
        "rm1": (rm1, "Preliminary assessment"),
        "manager": (manager, "Lost"),
    }[winner]
    assert deal.stage == {"rm1": "preliminary", "manager": "lost"}[winner]
    assert f"{winner_user} moved this deal to {stage_label}" in loser_body
    # One move on the timeline besides the creation; nothing half-applied from the loser.
    assert list(StageMove.objects.filter(deal=deal).exclude(from_stage="").values_list("by", flat=True)) == [
        winner_user.pk
    ]
