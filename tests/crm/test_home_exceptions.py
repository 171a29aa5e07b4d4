"""The home page's card and the top bar's badge: the exception requests waiting for the user's
decision, for whoever may decide them and nobody else."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from config.context_processors import exceptions
from crm.scope import Scope
from funnel.selectors import QUEUE_HOME_LIMIT
from tests.factories import CustomerFactory, DealFactory, TermsExceptionFactory

pytestmark = pytest.mark.django_db


def requested(rm, *, hours_ago: int):
    deal = DealFactory(customer=CustomerFactory(owner=rm, team=rm.team), title=f"待决项目 {hours_ago}")
    return TermsExceptionFactory(
        deal=deal, requested_by=rm, requested_at=timezone.now() - datetime.timedelta(hours=hours_ago)
    )


def test_the_manager_sees_the_card_with_the_count_and_the_oldest_few(client, manager, rm1):
    exceptions = [requested(rm1, hours_ago=n + 1) for n in range(QUEUE_HOME_LIMIT + 2)]
    client.force_login(manager)
    response = client.get(reverse("home"))
    page = response.content.decode()
    assert response.context["exceptions_waiting"] == QUEUE_HOME_LIMIT + 2
    oldest_first = sorted(exceptions, key=lambda e: e.requested_at)[:QUEUE_HOME_LIMIT]
    assert [e.code for e in response.context["waiting_exceptions"]] == [e.code for e in oldest_first]
    assert 'data-testid="home-exceptions"' in page and "Exceptions waiting for your decision" in page
    assert page.count('data-testid="home-exception"') == QUEUE_HOME_LIMIT
    assert reverse("funnel:exceptions") in page
    assert reverse("funnel:detail", args=[oldest_first[0].deal.code]) + "#terms" in page


def test_the_badge_shows_the_count_on_every_page(client, manager, rm1):
    requested(rm1, hours_ago=1)
    requested(rm1, hours_ago=2)
    client.force_login(manager)
    page = client.get(reverse("customers:list")).content.decode()
    assert 'data-testid="exceptions-badge"' in page
    assert '<span class="badge rounded-pill text-bg-warning">2</span>' in page


def test_the_requester_gets_neither_card_nor_badge(client, rm1):
    requested(rm1, hours_ago=1)
    client.force_login(rm1)
    page = client.get(reverse("home")).content.decode()
    assert 'data-testid="home-exceptions"' not in page and 'data-testid="exceptions-badge"' not in page


def test_the_badge_costs_one_query_and_nothing_where_it_is_not_shown(rf, manager, rm1, django_assert_num_queries):
    requested(rm1, hours_ago=1)
    request = rf.get("/")
    request.user = manager
    Scope.of(manager)  # read once per request for the top bar's role and team anyway
    with django_assert_num_queries(0):
        waiting = exceptions(request)["exceptions_waiting"]
    with django_assert_num_queries(1):
        assert waiting() == 1
