"""The exception queue (/funnel/exceptions/): the pending requests a user may decide, oldest
first, on deals they see, never their own; nobody else's rows, and an empty page for whoever
may decide nothing."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.scope import Scope
from funnel.deciders import decidable_by, decide_refusal
from funnel.models import ExceptionStatus, TermsException
from tests.factories import CustomerFactory, DealFactory, TermsExceptionFactory

pytestmark = pytest.mark.django_db

URL = reverse("funnel:exceptions")


def requested(customer, by, *, hours_ago: int, **fields) -> TermsException:
    deal = DealFactory(customer=customer, title=f"融资 {customer.name} {hours_ago}")
    at = timezone.now() - datetime.timedelta(hours=hours_ago)
    return TermsExceptionFactory(deal=deal, requested_by=by, requested_at=at, **fields)


def shown(response) -> list:
    return [exc.code for exc in response.context["queue"]]


@pytest.fixture
def requests(customer, other_customer, west_customer, rm1, rm2, rm_west, manager):
    """East: rm1's (older) and rm2's requests, one the manager asked for himself, one already
    decided; West: rm_west's, which the East manager cannot see."""
    return {
        "rm1": requested(customer, rm1, hours_ago=5),
        "rm2": requested(other_customer, rm2, hours_ago=30, reason="港口二期，竞争对手报价更低"),
        "by_manager": requested(customer, manager, hours_ago=2),
        "decided": requested(customer, rm1, hours_ago=50, status=ExceptionStatus.APPROVED),
        "west": requested(west_customer, rm_west, hours_ago=1),
    }


def test_it_lists_what_the_manager_may_decide_oldest_first(client, manager, requests):
    client.force_login(manager)
    response = client.get(URL)
    assert response.status_code == 200
    assert shown(response) == [requests["rm2"].code, requests["rm1"].code]
    page = response.content.decode()
    rm2_deal = requests["rm2"].deal
    assert rm2_deal.title in page and rm2_deal.customer.name in page
    assert "港口二期，竞争对手报价更低" in page and str(requests["rm2"].requested_by) in page
    assert reverse("funnel:detail", args=[rm2_deal.code]) + "#terms" in page


def test_it_leaves_out_their_own_request_what_they_cannot_see_and_what_is_decided(client, manager, requests):
    client.force_login(manager)
    page = client.get(URL).content.decode()
    for name in ("by_manager", "west", "decided"):
        assert requests[name].deal.title not in page


def test_every_row_is_one_the_four_eyes_rule_lets_them_decide(client, manager, risk_officer, requests):
    for user in (manager, risk_officer):
        client.force_login(user)
        listed = set(shown(client.get(URL)))
        for exc in TermsException.objects.filter(status=ExceptionStatus.PENDING).select_related("deal"):
            assert (exc.code in listed) == (decide_refusal(user, exc, exc.deal) is None), (user, exc.reason)


def test_a_risk_officer_sees_every_team_and_what_the_manager_asked_for(client, risk_officer, requests):
    client.force_login(risk_officer)
    assert set(shown(client.get(URL))) == {requests[name].code for name in ("rm1", "rm2", "by_manager", "west")}


def test_an_rm_who_may_decide_nothing_gets_an_empty_page_with_a_sentence(client, rm2, requests):
    client.force_login(rm2)
    response = client.get(URL)
    assert response.status_code == 200 and shown(response) == []
    page = response.content.decode()
    assert "No exception requests are waiting for your decision." in page
    assert requests["rm1"].deal.title not in page


def test_it_requires_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_rejects_post(client, manager):
    client.force_login(manager)
    assert client.post(URL).status_code == 405


def test_the_query_count_does_not_grow_with_the_rows(client, manager, rm1, django_assert_max_num_queries):
    for n in range(12):
        requested(CustomerFactory(owner=rm1, team=rm1.team), rm1, hours_ago=n + 1)
    client.force_login(manager)
    client.get(URL)  # warm the session and the permission caches
    # session, user, role, team, the queue, the top bar's count, the jobs notice, the session
    # save (4): the same for 1 row or 12.
    with django_assert_max_num_queries(10):
        response = client.get(URL)
    assert len(shown(response)) == 12


def test_an_rm_pays_no_query_for_the_top_bars_count(rm2, requests, django_assert_num_queries):
    """Even holding the decide permission, an RM sees only deals they own, and nobody decides
    on their own deal: the count every page's top bar shows costs an RM nothing."""
    from django.contrib.auth.models import Permission

    rm2.user_permissions.add(Permission.objects.get(codename="decide_exception"))
    Scope.of(rm2)  # built once per request, with the role, by the top bar anyway
    with django_assert_num_queries(0):
        assert decidable_by(rm2).count() == 0
