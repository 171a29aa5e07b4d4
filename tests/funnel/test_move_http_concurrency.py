"""Two people drop the same card at the same moment: two real HTTP requests to the running
server. Exactly one move is applied; the other person is told who moved the deal and where
(409), even when what they asked for is no move at all from where the deal went.

The race is made certain rather than hoped for: the test holds the deal's row (PostgreSQL:
SELECT … FOR UPDATE; SQLite: the database write lock) until both requests are seen waiting for
it; then it lets go."""

import threading
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from funnel import services
from funnel.models import Deal, StageMove
from tests.factories import make_graded_customer, to_approved

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CSRF = "k" * 32  # any 32-character token: Django compares the cookie with the header


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the answer: the plain form's success is the 302 itself."""

    def redirect_request(self, *args, **kwargs):
        return None


def post_move(base: str, deal: Deal, cookie: str, data: dict, results: list, who: str, *, htmx: bool) -> None:
    body = urllib.parse.urlencode(data).encode()
    headers = {
        "Cookie": f"sessionid={cookie}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if htmx:
        headers["HX-Request"] = "true"
    url = f"{base}/funnel/deals/{deal.code}/move/"
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - the live test server, http only
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            results.append((who, response.status, response.read().decode()))
    except urllib.error.HTTPError as error:
        results.append((who, error.code, error.read().decode()))
    finally:
        connections.close_all()


# Each race: the stage both saw the deal in, then where rm1 and the manager drop it. The targets
# differ; from Approved each is no move at all from where the other lands (Funded is closed, and
# only an approved deal can be funded), so whoever loses must still hear 409, not 422.
RACES = {
    "from-prospect": ("prospect", "preliminary", "lost"),
    "from-approved": ("approved", "funded", "due_diligence"),
}
LABELS = {"preliminary": "Preliminary assessment", "lost": "Lost", "funded": "Funded", "due_diligence": "Due diligence"}


def drop(deal: Deal, seen: str, to_stage: str) -> dict:
    """What the board (or the dialog, for Lost and Funded) posts."""
    data = {"seen_stage": seen, "to_stage": to_stage}
    if to_stage == "lost":
        data["lost_reason"] = "competitor"
    if to_stage == "funded":
        data |= {"funded_amount": str(deal.proposed_limit), "start_date": timezone.localdate().isoformat()}
    return data


@pytest.mark.parametrize("race", RACES.values(), ids=RACES.keys())
def test_of_two_simultaneous_drops_on_different_columns_one_lands_the_other_is_told_who(
    live_server, lock_waiters, rm1, manager, race
):
    """rm1 drops on the board (htmx), the manager submits the deal page's form (plain POST)."""
    customer = make_graded_customer(owner=rm1, team=rm1.team, name="华东光伏电站项目有限公司")
    deal = services.deal_create(
        by=rm1, customer=customer, title="光伏电站二期融资", project_type="renewable", amount=Decimal("80000000")
    )
    seen, rm1_target, manager_target = race
    if seen == "approved":
        deal = to_approved(deal, rm1)
    moves_before = StageMove.objects.filter(deal=deal).count()
    cookies = {"rm1": session_cookie(rm1), "manager": session_cookie(manager)}
    results: list = []
    threads = [
        threading.Thread(
            target=post_move,
            args=(live_server.url, deal, cookies["rm1"], drop(deal, seen, rm1_target), results, "rm1"),
            kwargs={"htmx": True},
        ),
        threading.Thread(
            target=post_move,
            args=(live_server.url, deal, cookies["manager"], drop(deal, seen, manager_target), results, "manager"),
            kwargs={"htmx": False},
        ),
    ]
    with transaction.atomic():  # SQLite: BEGIN IMMEDIATE, the database write lock
        Deal.objects.select_for_update().filter(pk=deal.pk).exists()
        for thread in threads:
            thread.start()
        lock_waiters.wait(2)  # both requests are in, waiting for the row
        assert results == []
        lock_waiters.letting_go()
    for thread in threads:
        thread.join(30)
    lock_waiters.assert_waited()

    statuses = {who: status for who, status, _ in results}
    assert sorted(statuses.values()) in ([200, 409], [302, 409]), statuses
    winner = next(who for who, status in statuses.items() if status != 409)
    loser_body = next(body for _, status, body in results if status == 409)
    winner_user, target = {"rm1": (rm1, rm1_target), "manager": (manager, manager_target)}[winner]
    assert statuses[winner] == (200 if winner == "rm1" else 302)
    deal.refresh_from_db()
    assert deal.stage == target
    assert f"{winner_user} moved this deal to {LABELS[target]}" in loser_body
    # One move on the timeline besides those before the race; nothing half-applied from the loser.
    moves = list(StageMove.objects.filter(deal=deal).order_by("at", "id").values_list("from_stage", "to_stage", "by"))
    assert moves[moves_before:] == [(seen, target, winner_user.pk)]
