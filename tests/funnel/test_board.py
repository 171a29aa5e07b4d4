import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from funnel.models import ClosedDayTotal, Deal, StageSetting, StageTotal
from tests.factories import CustomerFactory, DealFactory

pytestmark = pytest.mark.django_db

BOARD = reverse("funnel:board")


def column(html: str, stage: str) -> str:
    """The HTML of one column (up to the next column)."""
    start = html.index(f'data-testid="column-{stage}"')
    following = html.find('data-testid="column-', start + 1)
    return html[start : following if following != -1 else len(html)]


def count_in(html: str, stage: str) -> int:
    return int(re.search(r'data-testid="count">(\d+)<', column(html, stage)).group(1))


def test_it_requires_login(client):
    response = client.get(BOARD)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_rm_sees_only_deals_of_own_customers(client, rm1, customer, other_customer, west_customer):
    DealFactory(customer=customer, title="rm1 的项目")
    DealFactory(customer=other_customer, title="rm2 的项目")
    DealFactory(customer=west_customer, title="西部的项目")
    client.force_login(rm1)
    html = client.get(BOARD).content.decode()
    assert "rm1 的项目" in html
    assert "rm2 的项目" not in html
    assert "西部的项目" not in html
    assert count_in(html, "prospect") == 1


def test_a_card_shows_hostile_titles_and_names_as_text(client, rm1, customer):
    customer.name = 'Evil" onmouseover="alert(1)'
    customer.save(update_fields=["name"])
    DealFactory(customer=customer, title="<img src=x onerror=alert(1)>")
    client.force_login(rm1)
    html = client.get(BOARD).content.decode()
    assert "<img src=x" not in html and 'onmouseover="alert' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the title, shown as typed
    assert 'aria-label="&lt;img src=x onerror=alert(1)&gt;"' in html
    assert "Evil&quot; onmouseover=&quot;alert(1)" in html


def test_manager_sees_the_team_and_risk_sees_all(
    client, manager, risk_officer, customer, other_customer, west_customer
):
    for c in (customer, other_customer, west_customer):
        DealFactory(customer=c)
    client.force_login(manager)
    assert count_in(client.get(BOARD).content.decode(), "prospect") == 2
    client.force_login(risk_officer)
    assert count_in(client.get(BOARD).content.decode(), "prospect") == 3


def test_column_totals_follow_the_filters(client, rm1, customer):
    b_customer = CustomerFactory(owner=rm1, team=rm1.team, tier="B")
    DealFactory(customer=customer, amount=Decimal("100000000"), probability=10)
    DealFactory(customer=customer, amount=Decimal("20000000"), probability=10)
    DealFactory(customer=b_customer, amount=Decimal("50000000"), probability=10, stage="preliminary")
    client.force_login(rm1)

    html = client.get(BOARD).content.decode()
    prospect = column(html, "prospect")
    assert count_in(html, "prospect") == 2
    assert "¥120.0M" in prospect  # amount
    assert "¥12.0M weighted" in prospect  # 10 % of it

    html = client.get(BOARD, {"amount_min": "50000000"}).content.decode()
    assert count_in(html, "prospect") == 1
    assert "¥100.0M" in column(html, "prospect")
    assert count_in(html, "preliminary") == 1

    html = client.get(BOARD, {"tier": "B"}).content.decode()
    assert count_in(html, "prospect") == 0
    assert count_in(html, "preliminary") == 1


def test_closed_deals_leave_the_board_after_ninety_days(client, rm1, customer):
    now = timezone.now()
    for title, stage, days in (("最近放款", "funded", 10), ("去年放款", "funded", 200), ("最近流失", "lost", 0)):
        closed = now - datetime.timedelta(days=days)
        DealFactory(
            customer=customer,
            title=title,
            stage=stage,
            lost_reason="pricing" if stage == "lost" else "",
            closed_at=closed,
            stage_entered_at=closed,
        )
    client.force_login(rm1)
    html = client.get(BOARD).content.decode()
    assert "最近放款" in html and "最近流失" in html
    assert "去年放款" not in html
    assert count_in(html, "funded") == 1


def test_a_column_shows_fifty_cards_and_links_to_the_rest(client, rm1, customer):
    now = timezone.now()
    for i in range(52):
        DealFactory(customer=customer, title=f"项目{i:02d}", stage_entered_at=now - datetime.timedelta(hours=i))
    client.force_login(rm1)
    html = client.get(BOARD).content.decode()
    prospect = column(html, "prospect")
    assert prospect.count('data-testid="deal-card"') == 50
    assert count_in(html, "prospect") == 52  # the total counts every deal, not just the cards
    assert "项目00" in prospect and "项目51" not in prospect  # newest arrivals first
    assert 'data-testid="more"' in prospect
    assert "stage=prospect" in prospect


def card(html: str, title: str) -> str:
    start = html.index(title)
    return html[html.rindex("<article", 0, start) : html.index("</article>", start)]


@pytest.mark.parametrize(
    ("stage", "expected", "limit"), [("prospect", 30, 45), ("preliminary", 21, 31), ("due_diligence", 45, 67)]
)
def test_overdue_is_more_than_half_as_long_again_as_expected(stage, expected, limit):
    setting = StageSetting.objects.get(stage=stage)
    assert (setting.expected_days, setting.overdue_after) == (expected, limit)
    assert not setting.is_overdue(limit)
    assert setting.is_overdue(limit + 1)
    now = timezone.now()
    assert setting.overdue_cutoff(now) == now - datetime.timedelta(days=limit + 1)


def test_closed_stages_are_never_overdue():
    for stage in ("funded", "lost"):
        setting = StageSetting.objects.get(stage=stage)
        assert setting.overdue_after is None
        assert not setting.is_overdue(10_000)


def test_only_cards_past_the_margin_carry_the_overdue_badge(client, rm1, customer):
    now = timezone.now()
    DealFactory(customer=customer, title="拖延的项目", stage_entered_at=now - datetime.timedelta(days=46))
    DealFactory(customer=customer, title="稍晚的项目", stage_entered_at=now - datetime.timedelta(days=45))
    DealFactory(customer=customer, title="新项目", stage_entered_at=now - datetime.timedelta(days=3))
    client.force_login(rm1)
    prospect = column(client.get(BOARD).content.decode(), "prospect")
    assert prospect.count('data-testid="overdue"') == 1
    late = card(prospect, "拖延的项目")
    assert 'data-testid="overdue"' in late
    # The rule in the tooltip; the card itself is not painted red.
    assert "Overdue: more than 45 days in this stage, half as long again as the expected 30 days." in late
    assert "is-overdue" not in late
    # 45 days is past the 30 expected but within the margin: no badge.
    assert 'data-testid="overdue"' not in card(prospect, "稍晚的项目")
    assert 'data-testid="overdue"' not in card(prospect, "新项目")


def test_a_long_customer_name_is_on_the_card_whole(client, rm1):
    name = "中国长江三峡集团新能源投资开发（西南片区）股份有限公司"
    DealFactory(customer=CustomerFactory(name=name, owner=rm1, team=rm1.team), title="长名字")
    client.force_login(rm1)
    html = card(column(client.get(BOARD).content.decode(), "prospect"), "长名字")
    assert f'title="{name}">{name}</div>' in html  # wraps (two lines) rather than cut; all of it in the tooltip
    assert "text-truncate" not in html


def test_bad_filters_are_explained_not_a_crash(client, rm1, customer):
    DealFactory(customer=customer)
    client.force_login(rm1)
    response = client.get(BOARD, {"amount_min": "lots"})
    assert response.status_code == 200
    assert "Correct the filters" in response.content.decode()


def test_htmx_filtering_returns_only_the_columns(client, rm1, customer):
    DealFactory(customer=customer)
    client.force_login(rm1)
    response = client.get(BOARD, {"tier": "AA"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="columns"')
    assert "<nav" not in html
    assert "tier=AA" in html  # the redraw after a move keeps the filters


def test_query_count_does_not_grow_with_the_deals(client, manager, customer, other_customer):
    client.force_login(manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(BOARD).status_code == 200
        return len(ctx.captured_queries)

    for stage in ("prospect", "preliminary", "due_diligence", "approved"):
        DealFactory.create_batch(5, customer=customer, stage=stage)
    few = queries()
    for stage in ("prospect", "preliminary", "due_diligence", "approved"):
        DealFactory.create_batch(45, customer=other_customer, stage=stage)
    DealFactory.create_batch(30, customer=other_customer, stage="funded", closed_at=timezone.now())
    assert Deal.objects.count() == 230
    assert queries() == few


# --- Column totals: kept by the database for the unfiltered board, summed when filtered ---------
def totals_of(response) -> list[tuple]:
    return [(c.stage, c.count, c.amount, c.weighted) for c in response.context["columns"]]


@pytest.mark.parametrize("who", ["rm1", "manager", "risk_officer", "admin_user"])
def test_the_unfiltered_board_shows_what_summing_the_deals_shows(
    request, client, who, customer, other_customer, west_customer, rm_west
):
    now = timezone.now()
    for c, stage, amount, probability in (
        (customer, "prospect", "100000000.01", 10),
        (customer, "prospect", "20000000.00", 15),
        (customer, "due_diligence", "3333333.33", 60),
        (other_customer, "prospect", "7000000.07", 10),
        (other_customer, "approved", "55000000.00", 90),
        (west_customer, "preliminary", "4100000.00", 35),
    ):
        DealFactory(customer=c, stage=stage, amount=Decimal(amount), probability=probability)
    DealFactory(customer=customer, stage="funded", closed_at=now, stage_entered_at=now)
    DealFactory(customer=other_customer, stage="lost", lost_reason="pricing", closed_at=now, stage_entered_at=now)
    DealFactory(customer=west_customer).delete()
    moved = CustomerFactory(owner=rm_west, team=rm_west.team)
    DealFactory(customer=moved, stage="preliminary", amount=Decimal("999.99"), probability=20)
    moved.owner, moved.team = other_customer.owner, other_customer.team  # to rm2: the deal follows
    moved.save(update_fields=["owner", "team"])
    client.force_login(request.getfixturevalue(who))

    unfiltered = client.get(BOARD)
    summed = client.get(BOARD, {"amount_min": "0"})  # a filter that keeps every deal: summed from them
    assert totals_of(unfiltered) == totals_of(summed)
    assert any(count for _, count, _, _ in totals_of(unfiltered)[:4])


def test_only_the_unfiltered_board_reads_the_kept_totals(client, risk_officer, rm1, team, customer, other_customer):
    DealFactory(customer=customer, expected_close=datetime.date(2030, 1, 1))
    DealFactory(customer=other_customer, stage="preliminary")
    now = timezone.now()
    DealFactory(customer=customer, stage="funded", closed_at=now, stage_entered_at=now)
    client.force_login(risk_officer)
    # Spoil the kept totals: a board that reads them shows it, one that sums the deals does not.
    StageTotal.objects.update(count=F("count") + 100)
    ClosedDayTotal.objects.update(count=F("count") + 100)
    assert count_in(client.get(BOARD).content.decode(), "prospect") == 101
    assert count_in(client.get(BOARD).content.decode(), "funded") == 101
    assert count_in(client.get(BOARD, {"amount_min": "0"}).content.decode(), "funded") == 1
    # The filter form sent with every field at "All" filters nothing.
    assert count_in(client.get(BOARD, {"owner": "", "tier": "", "amount_min": ""}).content.decode(), "prospect") == 101
    for filters in (
        {"amount_min": "0"},
        {"tier": customer.tier},
        {"owner": rm1.code},
        {"team": team.code},
        {"close_from": "2029-12-31"},
    ):
        assert count_in(client.get(BOARD, filters).content.decode(), "prospect") == 1, filters


def test_the_unfiltered_and_a_filtered_board_run_as_many_queries(client, risk_officer, customer, other_customer):
    for stage in ("prospect", "preliminary", "due_diligence", "approved"):
        DealFactory.create_batch(3, customer=customer, stage=stage)
        DealFactory.create_batch(2, customer=other_customer, stage=stage)
    client.force_login(risk_officer)

    def queries(params) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(BOARD, params).status_code == 200
        return len(ctx.captured_queries)

    assert queries({}) == queries({"amount_min": "0"})
