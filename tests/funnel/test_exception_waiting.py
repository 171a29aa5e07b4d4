"""Once an exception is asked for, the deal page and a refused move name whom it waits for and
since when, instead of telling the RM to ask a team manager."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from funnel import services
from tests.factories import set_terms, tick_all, to_due_diligence

pytestmark = pytest.mark.django_db

ASK = "ask a team manager to approve an exception"


@pytest.fixture
def cheap_deal(deal, rm1):
    """rm1's deal in Due diligence, checklist done, priced 20 bp under the AA policy."""
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    set_terms(deal, spread_bps=60)
    deal.refresh_from_db()
    return deal


def waiting_sentence(exception, *names) -> str:
    when = date_format(timezone.localtime(exception.requested_at), "SHORT_DATETIME_FORMAT")
    return f"Waiting for a decision from {', '.join(names)} since {when}."


def test_before_a_request_the_page_says_to_ask(client, cheap_deal, rm1):
    client.force_login(rm1)
    page = client.get(reverse("funnel:detail", args=[cheap_deal.code])).content.decode()
    assert ASK in page


def test_after_a_request_the_move_box_names_the_deciders_and_since_when(client, cheap_deal, rm1, manager, risk_officer):
    exception = services.exception_request(deal=cheap_deal, by=rm1, reason="Strategic")
    client.force_login(rm1)
    page = client.get(reverse("funnel:detail", args=[cheap_deal.code])).content.decode()
    assert waiting_sentence(exception, str(manager), str(risk_officer)) in page
    assert ASK not in page


def test_a_refused_move_says_the_same(client, cheap_deal, rm1, manager, risk_officer):
    exception = services.exception_request(deal=cheap_deal, by=rm1, reason="Strategic")
    client.force_login(rm1)
    response = client.post(
        reverse("funnel:move", args=[cheap_deal.code]), {"to_stage": "approved", "seen_stage": "due_diligence"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert waiting_sentence(exception, str(manager), str(risk_officer)) in page and ASK not in page


def test_with_nobody_to_decide_it_says_an_admin_must_let_someone(client, cheap_deal, rm1):
    services.exception_request(deal=cheap_deal, by=rm1, reason="Strategic")
    client.force_login(rm1)
    page = client.get(reverse("funnel:detail", args=[cheap_deal.code])).content.decode()
    assert "nobody may decide it yet: an admin must let another team manager" in page


def test_a_chinese_rm_reads_it_in_chinese(client, cheap_deal, rm1, manager):
    services.exception_request(deal=cheap_deal, by=rm1, reason="Strategic")
    client.force_login(rm1)
    client.post(reverse("language"), {"language": "zh-hans"})
    page = client.get(reverse("funnel:detail", args=[cheap_deal.code])).content.decode()
    assert f"正在等待{manager}" in page and ASK not in page
