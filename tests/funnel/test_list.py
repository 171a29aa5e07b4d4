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

from crm import keyset
from funnel.models import Deal, StageSetting
from funnel.views import lists as list_views
from tests.factories import CustomerFactory, DealFactory

pytestmark = pytest.mark.django_db

LIST = reverse("funnel:list")


def titles(response) -> list[str]:
    return [row.deal.title for row in response.context["rows"]]


def link(response, testid: str) -> str | None:
    """The href of the pager link with this data-testid, as the browser would resolve it."""
    match = re.search(rf'<a [^>]*href="([^"]*)"[^>]*data-testid="{testid}"', response.content.decode())
    if not match:
        return None
    href = html.unescape(match.group(1))
    return LIST + href if href.startswith("?") else href


def walk(client, url: str, testid: str) -> list[list[str]]:
    """Follow the pager's ``testid`` link from ``url`` to the end: the titles of each page."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(titles(response))
        url = link(response, testid)
    return pages


@pytest.fixture
def book(customer, other_customer, west_customer):
    """One deal each for rm1, rm2 (rm1's teammate) and rm_west."""
    return {
        "rm1": DealFactory(customer=customer, title="rm1 光伏电站"),
        "rm2": DealFactory(customer=other_customer, title="rm2 港口扩建"),
        "west": DealFactory(customer=west_customer, title="west 矿区铁路"),
    }


# --- Access --------------------------------------------------------------------------------------
def test_login_required(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_rm_cannot_see_other_rms_deals(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST)
    assert response.status_code == 200
    assert titles(response) == ["rm1 光伏电站"]
    page = response.content.decode()
    assert "rm2 港口扩建" not in page
    assert "west 矿区铁路" not in page


def test_manager_sees_the_team_but_not_west(client, manager, book):
    client.force_login(manager)
    assert sorted(titles(client.get(LIST))) == ["rm1 光伏电站", "rm2 港口扩建"]


@pytest.mark.parametrize("who", ["risk_officer", "admin_user"])
def test_risk_officer_and_admin_see_every_deal(client, request, who, book):
    client.force_login(request.getfixturevalue(who))
    assert sorted(titles(client.get(LIST))) == ["rm1 光伏电站", "rm2 港口扩建", "west 矿区铁路"]


def test_new_deal_button_only_for_those_who_work_deals(client, rm1, risk_officer, book):
    client.force_login(rm1)
    assert reverse("funnel:create") in client.get(LIST).content.decode()
    client.force_login(risk_officer)
    page = client.get(LIST).content.decode()
    assert reverse("funnel:create") not in page
    assert reverse("funnel:board") in page


# --- Filters -------------------------------------------------------------------------------------
@pytest.fixture
def spread(rm1, customer):
    """rm1's deals differing in one field each."""
    aa = CustomerFactory(owner=rm1, team=rm1.team, name="甲级水务有限公司", tier="AA")
    return [
        DealFactory(
            customer=customer,
            title="光伏一期",
            amount=Decimal("10000000.00"),
            expected_close=datetime.date(2025, 3, 1),
        ),
        DealFactory(
            customer=customer,
            title="光伏二期",
            stage="due_diligence",
            probability=50,
            amount=Decimal("50000000.00"),
            expected_close=datetime.date(2025, 6, 1),
        ),
        DealFactory(
            customer=aa,
            title="污水处理厂",
            project_type="water",
            amount=Decimal("90000000.00"),
            expected_close=datetime.date(2025, 9, 1),
        ),
    ]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"q": "二期"}, ["光伏二期"]),
        ({"q": "甲级水务"}, ["污水处理厂"]),  # by customer name
        ({"stage": "due_diligence"}, ["光伏二期"]),
        ({"tier": "AA"}, ["污水处理厂"]),
        ({"project_type": "water"}, ["污水处理厂"]),
        ({"amount_min": "50000000"}, ["光伏二期", "污水处理厂"]),
        ({"amount_max": "50000000"}, ["光伏一期", "光伏二期"]),
        ({"close_from": "2025-05-01", "close_to": "2025-07-01"}, ["光伏二期"]),
        ({"q": "光伏", "amount_min": "20000000"}, ["光伏二期"]),
    ],
)
def test_each_filter_narrows_the_list(client, rm1, spread, params, expected):
    client.force_login(rm1)
    assert sorted(titles(client.get(LIST, params))) == sorted(expected)


def test_manager_filters_by_relationship_manager(client, manager, rm2, book):
    client.force_login(manager)
    assert titles(client.get(LIST, {"owner": str(rm2.code)})) == ["rm2 港口扩建"]


def test_customer_filter_shows_that_customers_deals_and_stays_in_the_form(client, rm1, spread):
    aa = spread[2].customer
    client.force_login(rm1)
    response = client.get(LIST, {"customer": str(aa.code)})
    assert titles(response) == ["污水处理厂"]
    assert f'type="hidden" name="customer" value="{aa.code}"' in response.content.decode()


def test_customer_filter_cannot_reach_another_rms_customer(client, rm1, book):
    client.force_login(rm1)
    assert titles(client.get(LIST, {"customer": str(book["rm2"].customer.code)})) == []


def test_risk_officer_filters_by_team(client, risk_officer, rm_west, book):
    client.force_login(risk_officer)
    assert titles(client.get(LIST, {"team": str(rm_west.team.code)})) == ["west 矿区铁路"]


def test_invalid_filter_value_is_reported_not_a_500(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST, {"amount_min": "lots", "close_from": "yesterday"})
    assert response.status_code == 200
    assert titles(response) == ["rm1 光伏电站"]
    assert response.content.decode().count("invalid-feedback") == 2


def test_page_renders_in_chinese_for_a_chinese_user(client, rm1, book):
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    client.force_login(rm1)
    response = client.get(LIST)
    assert response.status_code == 200
    assert "客户经理" in response.content.decode()  # "Relationship manager", already translated


def test_empty_state_when_nothing_matches(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST, {"q": "no such deal"})
    assert response.context["rows"] == []
    assert 'data-testid="empty"' in response.content.decode()
    assert 'data-testid="pager"' not in response.content.decode()


# --- Columns -------------------------------------------------------------------------------------
def test_row_shows_links_amounts_and_stage_label(client, rm1, customer):
    StageSetting.objects.filter(stage="due_diligence").update(display_name="Deep dive")
    deal = DealFactory(
        customer=customer, stage="due_diligence", probability=50, amount=Decimal("12345678.91"), title="二期"
    )
    client.force_login(rm1)
    page = client.get(LIST).content.decode()
    assert reverse("funnel:detail", args=[deal.code]) in page
    assert reverse("customers:detail", args=[customer.code]) in page
    assert "Deep dive" in page
    assert "12,345,678.91" in page
    assert "6,172,839.46" in page  # weighted at 50 %, rounded to the fen
    assert 'data-tier="unrated"' in page


def test_overdue_badge_only_for_open_deals_past_the_margin(client, rm1, customer):
    now = timezone.now()
    # Prospect expects 30 days: overdue after 45, the same rule as the board's.
    DealFactory(customer=customer, title="late", stage_entered_at=now - datetime.timedelta(days=46))
    DealFactory(customer=customer, title="a little late", stage_entered_at=now - datetime.timedelta(days=45))
    DealFactory(
        customer=customer, title="won long ago", stage="funded", probability=100,
        stage_entered_at=now - datetime.timedelta(days=400),
    )  # fmt: skip
    client.force_login(rm1)
    rows = {row.deal.title: row for row in client.get(LIST).context["rows"]}
    assert {title for title, row in rows.items() if row.overdue} == {"late"}
    assert rows["late"].days_in_stage == 46
    html = client.get(LIST).content.decode()
    assert html.count('data-testid="overdue"') == 1
    assert "more than 45 days in this stage" in html  # the rule, in the badge's tooltip


def test_count_is_capped_and_says_so(client, rm1, customer, monkeypatch):
    monkeypatch.setattr(keyset, "COUNT_CAP", 3)
    DealFactory.create_batch(3, customer=customer)
    client.force_login(rm1)
    response = client.get(LIST)
    assert "3 deals" in response.content.decode()
    assert not response.context["count_capped"]
    DealFactory(customer=customer)
    response = client.get(LIST)
    assert response.context["count_capped"]
    assert "More than 3 deals" in response.content.decode()


def test_htmx_request_gets_only_the_results_fragment(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert "rm1 光伏电站" in page
    assert "<html" not in page
    assert page.lstrip().startswith('<div id="results"')


def test_export_links_carry_the_filters_but_not_the_cursor(client, rm1, customer):
    deal = DealFactory(customer=customer, title="光伏")
    client.force_login(rm1)
    page = client.get(LIST, {"stage": "prospect", "after": str(deal.code)}).content.decode()
    assert f'href="{reverse("funnel:export_csv")}?stage=prospect"' in page
    assert f'href="{reverse("funnel:export_xlsx")}?stage=prospect"' in page


# --- Keyset pages --------------------------------------------------------------------------------
@pytest.fixture
def many(customer, monkeypatch):
    """11 deals of rm1 with pages of 3; created_at ties in threes so only the id breaks them."""
    monkeypatch.setattr(list_views, "PAGE_SIZE", 3)
    base = timezone.now() - datetime.timedelta(days=1)
    deals = [
        DealFactory(customer=customer, title=f"deal {n:02}", created_at=base + datetime.timedelta(minutes=n // 3))
        for n in range(11)
    ]
    # Newest first; among equal times the higher id first.
    return [d.title for d in sorted(deals, key=lambda d: (d.created_at, d.pk), reverse=True)]


def test_older_links_walk_every_deal_once_in_order(client, rm1, many):
    client.force_login(rm1)
    pages = walk(client, LIST, "older")
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    assert [title for page in pages for title in page] == many


def test_newer_links_walk_back_to_the_first_page(client, rm1, many):
    client.force_login(rm1)
    last = LIST
    while older := link(client.get(last), "older"):
        last = older
    pages = walk(client, last, "newer")  # stops at the page without a "Newer" link
    assert [len(p) for p in pages] == [2, 3, 3, 3]
    assert [title for page in reversed(pages) for title in page] == many


def test_pages_have_the_right_links(client, rm1, many):
    client.force_login(rm1)
    first = client.get(LIST)
    assert link(first, "newer") is None and link(first, "first") is None
    second = client.get(link(first, "older"))
    assert titles(second) == many[3:6]
    assert link(second, "first") == LIST
    assert titles(client.get(link(second, "newer"))) == many[:3]
    last = client.get(link(client.get(link(second, "older")), "older"))
    assert titles(last) == many[9:]
    assert link(last, "older") is None
    assert titles(client.get(link(last, "first"))) == many[:3]


def test_cursor_is_the_public_code_never_an_id(client, rm1, many):
    client.force_login(rm1)
    older = link(client.get(LIST), "older")
    code = older.split("after=")[1]
    assert uuid.UUID(code) == Deal.objects.get(title=many[2]).code


def test_paging_keeps_the_filters(client, rm1, customer, many):
    DealFactory.create_batch(4, customer=customer, title="other", project_type="road")
    client.force_login(rm1)
    pages = walk(client, f"{LIST}?project_type=renewable", "older")
    assert [title for page in pages for title in page] == many
    second = client.get(link(client.get(LIST, {"project_type": "renewable"}), "older"))
    assert "project_type=renewable" in link(second, "newer")
    assert link(second, "first") == f"{LIST}?project_type=renewable"


def test_newer_from_a_short_remainder_shows_a_full_first_page(client, rm1, many):
    client.force_login(rm1)
    # The deal at index 1 has only one newer deal: "before" it is the first page, shown full.
    response = client.get(LIST, {"before": str(Deal.objects.get(title=many[1]).code)})
    assert titles(response) == many[:3]
    assert link(response, "newer") is None


@pytest.mark.parametrize("param", ["after", "before"])
@pytest.mark.parametrize("cursor", ["not-a-uuid", str(uuid.uuid4()), "", "1"])
def test_bogus_cursor_shows_the_first_page(client, rm1, many, param, cursor):
    client.force_login(rm1)
    response = client.get(LIST, {param: cursor})
    assert response.status_code == 200
    assert titles(response) == many[:3]


@pytest.mark.parametrize("param", ["after", "before"])
def test_cursor_of_a_deal_the_user_cannot_see_shows_the_first_page(client, rm1, many, other_customer, param):
    hidden = DealFactory(customer=other_customer, created_at=timezone.now() - datetime.timedelta(days=3))
    client.force_login(rm1)
    response = client.get(LIST, {param: str(hidden.code)})
    assert response.status_code == 200
    assert titles(response) == many[:3]


def test_cursor_of_a_deal_filtered_out_shows_the_first_filtered_page(client, rm1, many):
    road = Deal.objects.get(title=many[4])
    Deal.objects.filter(pk=road.pk).update(project_type="road")
    client.force_login(rm1)
    response = client.get(LIST, {"after": str(road.code), "project_type": "renewable"})
    assert response.status_code == 200
    assert titles(response) == many[:3]


def test_full_page_size_with_more_to_come(client, rm1, customer):
    DealFactory.create_batch(list_views.PAGE_SIZE + 1, customer=customer)
    client.force_login(rm1)
    response = client.get(LIST)
    assert len(response.context["rows"]) == list_views.PAGE_SIZE
    assert link(response, "older")
    assert len(client.get(link(response, "older")).context["rows"]) == 1


# --- Cost ----------------------------------------------------------------------------------------
def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_query_count_does_not_grow_with_rows(client, manager, rm1, rm2, customer, other_customer):
    # More than a page each time: a list that fits on one is counted by its rows, a query less.
    for n in range(55):
        DealFactory(customer=customer if n % 2 else other_customer)
    client.force_login(manager)
    few = _queries(client, LIST)
    for n in range(45):
        DealFactory(customer=CustomerFactory(owner=rm1 if n % 2 else rm2, team=rm1.team))
    assert _queries(client, LIST) == few
    response = client.get(LIST)
    assert len(response.context["rows"]) == 50
    # A page behind a cursor costs what the first page costs: the cursor is read in a subquery.
    cursor = response.context["page"].rows[10].code
    assert _queries(client, f"{LIST}?after={cursor}") == few
    assert few <= 13  # 12, and the top bar's count of exceptions waiting for a decision
