"""The customer list's pages: keyset pages in every sort, for every role, at a cost that does not
depend on how deep the page is."""

import datetime
import html
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from customers.views import customers as customer_views
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
TIER_RANK = {"AA": 0, "A": 1, "B": 2, "unrated": 3}
# Each sort choice and how its rows must come out: a key that orders them completely, and
# whether it runs backwards. (The names are "Firm A", "Firm B", ..., ordered alike by every
# collation.)
SORTS = {
    "": (lambda c: (c.name, c.pk), False),
    "-name": (lambda c: (c.name, c.pk), True),
    "capital": (lambda c: (c.registered_capital, c.pk), False),
    "-capital": (lambda c: (c.registered_capital, c.pk), True),
    "tier": (lambda c: (TIER_RANK[c.tier], c.name, c.pk), False),
    "-created": (lambda c: (c.created_at, c.pk), True),
}


def in_order(customers, sort: str) -> list[int]:
    key, backwards = SORTS[sort]
    return [c.pk for c in sorted(customers, key=key, reverse=backwards)]


def link(response, rel: str) -> str | None:
    """The href of the pager link with this rel, as the browser would resolve it."""
    match = re.search(rf'<a [^>]*href="([^"]*)"[^>]*rel="{rel}"', response.content.decode())
    if not match:
        return None
    href = html.unescape(match.group(1))
    return LIST + href if href.startswith("?") else href


def names(response) -> list[str]:
    return [c.name for c in response.context["page"].rows]


def walk(client, url: str, rel: str) -> list[list[Customer]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(list(response.context["page"].rows))
        url = link(response, rel)
    return pages


@pytest.fixture
def crowd(rm1, rm2, rm_west, monkeypatch):
    """Pages of 3. rm1 has 11 customers, rm2 (same team) 4, rm_west 3, with ties everywhere:
    names in threes, capital in pairs, created_at in fours, tiers in a cycle."""
    monkeypatch.setattr(customer_views, "PAGE_SIZE", 3)
    base = timezone.now() - datetime.timedelta(days=2)
    tiers = ["B", "AA", "unrated", "A"]
    made = []
    for n, owner in enumerate([rm1] * 11 + [rm2] * 4 + [rm_west] * 3):
        made.append(
            CustomerFactory(
                owner=owner,
                team=owner.team,
                name=f"Firm {chr(ord('A') + n // 3)}",
                registered_capital=Decimal(1_000_000 * (n // 2)),
                created_at=base + datetime.timedelta(minutes=n // 4),
                tier=tiers[n % 4],
            )
        )
    return made


def visible(crowd, user) -> list[Customer]:
    if user.username == "rm1":
        return [c for c in crowd if c.owner_id == user.pk]
    if user.username == "manager":
        return [c for c in crowd if c.team_id == user.team_id]
    return list(crowd)


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("who", ["rm1", "manager", "admin_user"])
def test_next_links_visit_every_visible_customer_once_in_order(client, request, crowd, who, sort):
    user = request.getfixturevalue(who)
    client.force_login(user)
    pages = walk(client, f"{LIST}?sort={sort}", "next")
    shown = [c.pk for page in pages for c in page]
    assert shown == in_order(visible(crowd, user), sort)
    assert all(len(page) == 3 for page in pages[:-1])


@pytest.mark.parametrize("sort", list(SORTS))
def test_prev_links_walk_back_to_the_first_page(client, manager, crowd, sort):
    client.force_login(manager)
    forward = walk(client, f"{LIST}?sort={sort}", "next")
    last = f"{LIST}?sort={sort}"
    while following := link(client.get(last), "next"):
        last = following
    backward = walk(client, last, "prev")
    assert [[c.pk for c in p] for p in reversed(backward)] == [[c.pk for c in p] for p in forward]


def test_pages_carry_the_filters_and_the_sort(client, manager, rm2, crowd):
    client.force_login(manager)
    pages = walk(client, f"{LIST}?owner={rm2.code}&sort=-capital", "next")
    assert [c.owner_id for page in pages for c in page] == [rm2.pk] * 4
    second = client.get(link(client.get(LIST, {"owner": rm2.code, "sort": "-capital"}), "next"))
    assert "sort=-capital" in link(second, "prev") and f"owner={rm2.code}" in link(second, "prev")


def test_search_pages_through_its_matches(client, rm1, crowd):
    client.force_login(rm1)
    pages = walk(client, f"{LIST}?q=firm+b", "next")
    assert [c.name for page in pages for c in page] == ["Firm B"] * 3


@pytest.mark.parametrize("param", ["after", "before"])
def test_cursor_of_a_customer_outside_the_scope_gives_page_one(client, rm1, crowd, param):
    hidden = next(c for c in crowd if c.owner_id != rm1.pk)
    client.force_login(rm1)
    response = client.get(LIST, {param: str(hidden.code)})
    assert response.status_code == 200
    first = in_order(visible(crowd, rm1), "")[:3]
    assert [c.pk for c in response.context["page"].rows] == first
    assert link(response, "prev") is None


@pytest.mark.parametrize("cursor", ["not-a-uuid", str(uuid.uuid4()), "", "1"])
def test_bogus_cursor_gives_page_one(client, rm1, crowd, cursor):
    client.force_login(rm1)
    response = client.get(LIST, {"after": cursor})
    assert response.status_code == 200
    assert len(response.context["page"].rows) == 3 and link(response, "prev") is None


def test_pager_has_neutral_labels_and_rel_links(client, rm1, crowd):
    client.force_login(rm1)
    second = client.get(link(client.get(LIST), "next"))
    body = second.content.decode()
    assert 'rel="next"' in body and 'rel="prev"' in body
    assert "Previous" in body and "Next" in body
    assert "Newer" not in body and "Older" not in body


def test_htmx_page_is_the_results_fragment_with_the_pager(client, rm1, crowd):
    client.force_login(rm1)
    nxt = link(client.get(LIST), "next")
    body = client.get(nxt, headers={"HX-Request": "true"}).content.decode()
    assert body.lstrip().startswith('<div id="results"')
    assert 'rel="prev"' in body and "<html" not in body


def test_count_is_capped(client, rm1, crowd, monkeypatch):
    from crm import keyset

    monkeypatch.setattr(keyset, "COUNT_CAP", 5)
    client.force_login(rm1)
    response = client.get(LIST)
    assert response.context["count"] == 5 and response.context["count_capped"]
    assert "More than 5 customers" in response.content.decode()


# --- Cost ----------------------------------------------------------------------------------------
def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("who", ["rm1", "manager", "admin_user"])
def test_a_deep_page_costs_what_the_first_page_costs(client, request, crowd, who, sort):
    client.force_login(request.getfixturevalue(who))
    first = f"{LIST}?sort={sort}"
    deep = first
    for _ in range(3):
        deep = link(client.get(deep), "next")
    assert "after=" in deep
    assert queries(client, deep) == queries(client, first)


@pytest.mark.parametrize("who", ["rm1", "manager", "admin_user"])
def test_query_count_does_not_grow_with_rows_or_page_size(client, request, who, rm1):
    client.force_login(request.getfixturevalue(who))
    # More than a page each time: a list that fits on one is counted by its rows, a query less.
    CustomerFactory.create_batch(55, owner=rm1, team=rm1.team)
    few = queries(client, LIST)
    CustomerFactory.create_batch(60, owner=rm1, team=rm1.team)
    assert queries(client, LIST) == few
    assert few <= 12
