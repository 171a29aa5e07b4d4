"""The data-quality list's pages: keyset pages by name for every role, capped counts, and a cost
that does not depend on how deep the page is."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import keyset
from customers.views import overview as overview_views
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = reverse("customers:data_quality")


def link(response, rel: str) -> str | None:
    match = re.search(rf'<a [^>]*href="([^"]*)"[^>]*rel="{rel}"', response.content.decode())
    if not match:
        return None
    href = html.unescape(match.group(1))
    return URL + href if href.startswith("?") else href


def shown(response) -> list[int]:
    return [customer.pk for customer, _quality in response.context["rows"]]


@pytest.fixture
def crowd(rm1, rm2, rm_west, monkeypatch):
    """Pages of 3; new customers miss their sourced inputs, so all of them need attention.
    rm1 has 11, rm2 (same team) 4, rm_west 3; names tie in threes."""
    monkeypatch.setattr(overview_views, "PAGE_SIZE", 3)
    owners = [rm1] * 11 + [rm2] * 4 + [rm_west] * 3
    return [
        CustomerFactory(owner=owner, team=owner.team, name=f"Firm {chr(ord('A') + n // 3)}")
        for n, owner in enumerate(owners)
    ]


def visible(crowd, user) -> list[int]:
    if user.username == "rm1":
        rows = [c for c in crowd if c.owner_id == user.pk]
    elif user.username == "manager":
        rows = [c for c in crowd if c.team_id == user.team_id]
    else:
        rows = crowd
    return [c.pk for c in sorted(rows, key=lambda c: (c.name, c.pk))]


@pytest.mark.parametrize("who", ["rm1", "manager", "admin_user"])
def test_next_links_visit_every_customer_needing_attention_once(client, request, crowd, who):
    user = request.getfixturevalue(who)
    client.force_login(user)
    seen, url = [], URL
    while url:
        response = client.get(url)
        seen += shown(response)
        url = link(response, "next")
    assert seen == visible(crowd, user)


def test_prev_link_goes_back_and_filters_stay(client, manager, rm2, crowd):
    client.force_login(manager)
    first = client.get(URL, {"owner": rm2.code})
    second = client.get(link(first, "next"))
    assert f"owner={rm2.code}" in link(second, "prev")
    assert shown(client.get(link(second, "prev"))) == shown(first)
    assert "Previous" in second.content.decode() and "Newer" not in second.content.decode()


@pytest.mark.parametrize("param", ["after", "before"])
def test_cursor_of_a_customer_outside_the_scope_gives_page_one(client, rm1, crowd, param):
    hidden = next(c for c in crowd if c.owner_id != rm1.pk)
    client.force_login(rm1)
    response = client.get(URL, {param: str(hidden.code)})
    assert shown(response) == visible(crowd, rm1)[:3]
    assert link(response, "prev") is None


def test_counts_are_capped_and_say_so(client, rm1, crowd, monkeypatch):
    monkeypatch.setattr(keyset, "COUNT_CAP", 5)
    client.force_login(rm1)
    response = client.get(URL)
    body = response.content.decode()
    assert "More than 5 customers need attention" in body
    assert "Incomplete: more than 5" in body
    assert response.context["counts"].incomplete == 5 and response.context["counts"].incomplete_capped


def test_htmx_page_is_the_results_fragment_with_the_pager(client, rm1, crowd):
    client.force_login(rm1)
    body = client.get(link(client.get(URL), "next"), headers={"HX-Request": "true"}).content.decode()
    assert body.lstrip().startswith('<div id="results"')
    assert 'rel="prev"' in body and 'rel="next"' in body


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("who", ["rm1", "manager", "admin_user"])
def test_a_deep_page_costs_what_the_first_page_costs(client, request, crowd, who):
    client.force_login(request.getfixturevalue(who))
    deep = URL
    for _ in range(3):
        deep = link(client.get(deep), "next")
    assert "after=" in deep
    assert queries(client, deep) == queries(client, URL)
