"""Tier overview (summary per tier, migration matrix) and the data-quality list: what each role
may count, how tiers move between two Shanghai days, and that the pages stay scoped."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.access import customers_for
from customers.models import Customer, Grade, Scorecard, ScorecardStatus
from customers.selectors.overview import (
    DOWNGRADE,
    NOT_GRADED,
    OTHER,
    STAYED,
    UPGRADE,
    day_end,
    tier_summary,
    transition_matrix,
)
from tests.factories import CustomerFactory, TeamFactory, make_user

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def grade_as(customer, tier: str, limit: str | None = None) -> Customer:
    Customer.objects.filter(pk=customer.pk).update(tier=tier, credit_limit=limit and Decimal(limit))
    customer.refresh_from_db()
    return customer


def graded(customer, tier: str, when: datetime) -> Grade:
    return Grade.objects.create(customer=customer, tier=tier, computed_tier=tier, reason="scheduled", created_at=when)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def complete(customer, **overrides) -> Customer:
    """Give a customer every scorecard input, all fresh."""
    today = timezone.localdate()
    values = {
        "bureau_rating": "AA",
        "has_litigation": False,
        "overdue_count": 0,
        "debt_ratio": Decimal("0.5"),
        "current_ratio": Decimal("1.2"),
        "project_amount": Decimal("100000000"),
        "cooperation_since": date(2020, 1, 1),
        "credit_report_date": today - timedelta(days=10),
        "statement_date": today - timedelta(days=10),
        "funding_need_date": today - timedelta(days=10),
        "tier": "A",
        **overrides,
    }
    Customer.objects.filter(pk=customer.pk).update(**values)
    customer.refresh_from_db()
    return customer


# --- tier_summary ------------------------------------------------------------------------------
@pytest.fixture
def portfolio(customer, other_customer, west_customer):
    grade_as(customer, "AA", "100.00")
    grade_as(other_customer, "A", "250.50")
    grade_as(west_customer, "B", "1000.00")
    return customer, other_customer, west_customer


def by_tier(rows) -> dict:
    return {row.tier: (row.customers, row.exposure, row.share) for row in rows}


def test_summary_has_every_tier_in_order_even_empty(rm1, portfolio):
    rows = tier_summary(customers_for(rm1))
    assert [row.tier for row in rows] == ["AA", "A", "B", "unrated"]
    assert by_tier(rows) == {
        "AA": (1, Decimal("100.00"), Decimal("100.0")),
        "A": (0, Decimal("0.00"), Decimal("0.0")),
        "B": (0, Decimal("0.00"), Decimal("0.0")),
        "unrated": (0, Decimal("0.00"), Decimal("0.0")),
    }


def test_summary_of_team_manager_counts_the_team_only(manager, portfolio):
    rows = by_tier(tier_summary(customers_for(manager)))
    assert rows["AA"][:2] == (1, Decimal("100.00"))
    assert rows["A"][:2] == (1, Decimal("250.50"))
    assert rows["B"][:2] == (0, Decimal("0.00"))  # West's B customer is not the manager's
    assert rows["A"][2] == Decimal("71.5")  # 250.50 / 350.50


def test_summary_of_risk_officer_counts_everyone(risk_officer, portfolio):
    unrated = CustomerFactory(owner=portfolio[0].owner, team=portfolio[0].team)  # no limit yet
    rows = by_tier(tier_summary(customers_for(risk_officer)))
    assert rows == {
        "AA": (1, Decimal("100.00"), Decimal("7.4")),
        "A": (1, Decimal("250.50"), Decimal("18.5")),
        "B": (1, Decimal("1000.00"), Decimal("74.0")),
        "unrated": (1, Decimal("0.00"), Decimal("0.0")),
    }
    assert unrated.credit_limit is None


def test_summary_never_counts_an_outsiders_customers(db, portfolio):
    outsider = make_user(None, username="outsider")
    rows = tier_summary(customers_for(outsider))
    assert all(row.customers == 0 and row.exposure == 0 and row.share is None for row in rows)


def test_summary_is_one_query(rm1, portfolio, django_assert_num_queries):
    visible = customers_for(rm1)
    with django_assert_num_queries(1):
        tier_summary(visible)


# --- transition_matrix -------------------------------------------------------------------------
START, END = date(2026, 3, 1), date(2026, 5, 31)


@pytest.fixture
def history(rm1, rm_west):
    """Hand-made grade histories of rm1's customers, and one of another team's."""

    def make(name, *grades):
        customer = CustomerFactory(owner=rm1, team=rm1.team, name=name)
        for tier, when in grades:
            graded(customer, tier, when)
        return customer

    return {
        "downgraded": make("downgraded", ("AA", local(2026, 1, 5, 9)), ("B", local(2026, 4, 15, 9))),
        "unchanged": make("unchanged", ("A", local(2025, 12, 1, 9))),
        "graded_after_start": make("graded_after_start", ("A", local(2026, 3, 15, 9))),
        "start_day_evening": make("start_day_evening", ("B", local(2026, 2, 1, 9)), ("AA", local(2026, 3, 1, 23, 59))),
        # 00:10 on 2 March in Shanghai is still 1 March in UTC: it is after the start day.
        "upgraded": make(
            "upgraded", ("B", local(2026, 2, 1, 9)), ("AA", local(2026, 3, 2, 0, 10)), ("A", local(2026, 6, 1, 0, 5))
        ),
        "unrated": make("unrated", ("unrated", local(2026, 1, 1, 9))),
        "to_unrated": make("to_unrated", ("B", local(2026, 1, 1, 9)), ("unrated", local(2026, 5, 31, 23, 50))),
        "never_graded": make("never_graded"),
        "other_team": graded(CustomerFactory(owner=rm_west, team=rm_west.team), "AA", local(2026, 1, 1, 9)).customer,
    }


def test_day_end_is_the_next_shanghai_midnight():
    assert day_end(date(2026, 3, 1)) == datetime(2026, 3, 1, 16, 0, tzinfo=ZoneInfo("UTC"))


def test_matrix_counts_moves_between_the_ends_of_two_shanghai_days(rm1, history):
    matrix = transition_matrix(customers_for(rm1), START, END)
    assert matrix.counts == {
        ("AA", "B"): 1,  # downgraded
        ("A", "A"): 1,  # unchanged
        (NOT_GRADED, "A"): 1,  # first graded after the start day
        ("AA", "AA"): 1,  # the 23:59 grade on the start day counts for the start day
        ("B", "AA"): 1,  # the 00:10 grade is the next day's; the 1 June one is after the end
        ("unrated", "unrated"): 1,
        ("B", "unrated"): 1,  # 23:50 on the end day still counts
        (NOT_GRADED, NOT_GRADED): 1,
    }
    assert matrix.total == 8  # the other team's customer is not in rm1's queryset
    assert (matrix.upgrades, matrix.downgrades, matrix.stayed) == (1, 1, 4)


def test_matrix_rows_have_totals_and_row_percentages(rm1, history):
    matrix = transition_matrix(customers_for(rm1), START, END)
    assert [key for key, _ in matrix.columns] == ["AA", "A", "B", "unrated", NOT_GRADED]
    rows = {row.from_tier: row for row in matrix.rows}
    assert [row.from_tier for row in matrix.rows] == ["AA", "A", "B", "unrated", NOT_GRADED]
    aa = rows["AA"]
    assert aa.total == 2
    assert [(c.to_tier, c.count, c.share, c.kind) for c in aa.cells] == [
        ("AA", 1, Decimal("50.0"), STAYED),
        ("A", 0, Decimal("0.0"), DOWNGRADE),
        ("B", 1, Decimal("50.0"), DOWNGRADE),
        ("unrated", 0, Decimal("0.0"), OTHER),
        (NOT_GRADED, 0, Decimal("0.0"), OTHER),
    ]
    assert rows["B"].cells[0].kind == UPGRADE
    assert rows[NOT_GRADED].total == 2
    assert rows[NOT_GRADED].cells[1].share == Decimal("50.0")
    assert sum(row.total for row in matrix.rows) == matrix.total == sum(matrix.column_totals)
    # "Not graded yet" is its own row and column, distinct from Unrated.
    assert rows["unrated"].total == 1


def test_matrix_of_same_day_is_the_diagonal(rm1, history):
    matrix = transition_matrix(customers_for(rm1), END, END)
    assert matrix.upgrades == matrix.downgrades == 0
    assert matrix.stayed == matrix.total == 8
    assert all(count == 0 for (a, b), count in matrix.counts.items() if a != b)


def test_matrix_respects_access(manager, risk_officer, history):
    assert transition_matrix(customers_for(risk_officer), START, END).total == 9
    assert transition_matrix(customers_for(manager), START, END).total == 8


def test_matrix_rejects_start_after_end(rm1):
    with pytest.raises(ValueError):
        transition_matrix(customers_for(rm1), END, START)


def test_matrix_is_one_query_whatever_the_history(rm1, history, django_assert_num_queries):
    visible = customers_for(rm1)
    with django_assert_num_queries(1):
        transition_matrix(visible, START, END)


# --- tier page ---------------------------------------------------------------------------------
def page_text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("who", ["rm1", "manager", "risk_officer", "admin_user"])
def test_tier_page_renders_for_every_role(client, request, who, portfolio):
    client.force_login(request.getfixturevalue(who))
    body = page_text(client.get(reverse("customers:tiers")))
    assert 'data-testid="tier-summary"' in body
    assert 'data-testid="transition-matrix"' in body
    assert 'id="tier-chart-data" type="application/json"' in body
    assert 'data-testid="date-error"' not in body


def test_tier_page_shows_only_own_exposure_to_rm(client, rm1, portfolio):
    client.force_login(rm1)
    response = client.get(reverse("customers:tiers"))
    body = page_text(response)
    assert response.context["total_customers"] == 1
    assert response.context["total_exposure"] == Decimal("100.00")
    assert "250.50" not in body and "1,000.00" not in body
    # Only rm1's own team is offered in the team filter.
    assert list(response.context["form"].fields["team"].queryset) == [rm1.team]


def test_tier_page_defaults_to_the_last_90_days(client, rm1):
    client.force_login(rm1)
    matrix = client.get(reverse("customers:tiers")).context["matrix"]
    today = timezone.localdate()
    assert (matrix.start, matrix.end) == (today - timedelta(days=90), today)


def test_tier_page_filters_by_team_and_industry(client, risk_officer, portfolio):
    customer, other_customer, west_customer = portfolio
    Customer.objects.filter(pk=other_customer.pk).update(industry="water")
    client.force_login(risk_officer)
    url = reverse("customers:tiers")
    assert client.get(url, {"team": west_customer.team.code}).context["total_exposure"] == Decimal("1000.00")
    response = client.get(url, {"team": customer.team.code, "industry": "water"})
    assert response.context["total_customers"] == 1
    assert response.context["total_exposure"] == Decimal("250.50")
    assert response.context["matrix"].total == 1


def test_team_manager_cannot_filter_by_another_team(client, manager, portfolio):
    west_team = portfolio[2].team
    client.force_login(manager)
    response = client.get(reverse("customers:tiers"), {"team": west_team.code})
    # The page body only: the navigation shows the user's (random) name, which may contain "West".
    body = page_text(response).split('<main id="main"', 1)[1]
    assert "team" in response.context["form"].errors
    assert response.context["summary"] is None  # an error, not a silently wider answer
    assert west_team.name not in body
    assert "1,000.00" not in body


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-05-01", "end": "2026-04-01"}, "end", "The end date must be on or after the start date."),
        ({"start": "2026-02-30"}, "start", "“2026-02-30” is not a valid date. Use YYYY-MM-DD."),
        ({"end": "next week"}, "end", "“next week” is not a valid date. Use YYYY-MM-DD."),
        ({"end": "9999-12-31"}, "end", "The end date cannot be in the future."),
    ],
)
def test_tier_page_explains_bad_dates(client, rm1, portfolio, params, field, message):
    client.force_login(rm1)
    response = client.get(reverse("customers:tiers"), params)
    body = page_text(response)
    assert f'data-testid="error-{field}"' in body
    assert message in body
    assert 'data-testid="date-error"' in body
    assert response.context["matrix"] is None
    assert response.context["total_customers"] == 1  # the summary does not need dates


def test_tier_page_shows_the_matrix_cells(client, rm1, history):
    client.force_login(rm1)
    body = page_text(client.get(reverse("customers:tiers"), {"start": START, "end": END}))
    assert 'data-kind="downgrade" data-count="1"' in body
    assert 'data-kind="upgrade" data-count="1"' in body
    assert "Not graded yet" in body
    assert "table-danger" in body and "table-success" in body


# --- data-quality page -------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["rm1", "manager", "risk_officer", "admin_user"])
def test_quality_page_renders_for_every_role(client, request, who, customer):
    client.force_login(request.getfixturevalue(who))
    body = page_text(client.get(reverse("customers:data_quality")))
    assert 'data-testid="quality-counts"' in body
    assert customer.name in body  # a new customer misses its sourced inputs


def test_quality_list_never_shows_another_rms_customer(client, rm1, customer, other_customer, west_customer):
    client.force_login(rm1)
    response = client.get(reverse("customers:data_quality"))
    body = page_text(response)
    assert customer.name in body
    assert other_customer.name not in body and west_customer.name not in body
    assert response.context["count"] == 1
    assert 'name="owner"' not in body and 'name="team"' not in body


def test_quality_list_of_manager_is_the_team(client, manager, customer, other_customer, west_customer):
    client.force_login(manager)
    response = client.get(reverse("customers:data_quality"))
    body = page_text(response)
    assert customer.name in body and other_customer.name in body
    assert west_customer.name not in body
    owners = set(response.context["filter"].filters["owner"].queryset)
    assert owners == {customer.owner, other_customer.owner}
    assert str(west_customer.team.code) not in response.content.decode()  # not even as a team choice


def test_quality_list_names_missing_inputs_and_stale_sources(client, rm1, customer):
    today = timezone.localdate()
    stale = CustomerFactory(owner=rm1, team=rm1.team, name="过期数据有限公司")
    complete(stale, credit_report_date=today - timedelta(days=400))
    fresh = complete(CustomerFactory(owner=rm1, team=rm1.team, name="完整数据有限公司"))
    client.force_login(rm1)
    response = client.get(reverse("customers:data_quality"))
    body = page_text(response)
    assert fresh.name not in body  # nothing to do
    rows = {c.name: q for c, q in response.context["rows"]}
    assert set(rows) == {customer.name, stale.name}
    assert "Credit bureau rating" in rows[customer.name].missing_labels()
    assert [(s.label, s.age_days, s.max_age_days) for s in rows[stale.name].stale] == [("Credit report", 400, 365)]
    assert "400 days old (allowed 365)" in body
    counts = response.context["counts"]
    assert (counts.incomplete, counts.stale) == (1, 1)


def test_quality_list_filters_by_team_owner_and_tier(client, risk_officer, customer, other_customer, west_customer):
    grade_as(other_customer, "B")
    client.force_login(risk_officer)
    url = reverse("customers:data_quality")

    def names(params):
        return {c.name for c, _ in client.get(url, params).context["rows"]}

    assert names({}) == {customer.name, other_customer.name, west_customer.name}
    assert names({"team": west_customer.team.code}) == {west_customer.name}
    assert names({"owner": other_customer.owner.code}) == {other_customer.name}
    assert names({"tier": "B"}) == {other_customer.name}


def test_quality_list_htmx_request_gets_the_results_fragment(client, rm1, customer):
    client.force_login(rm1)
    body = page_text(client.get(reverse("customers:data_quality"), headers={"HX-Request": "true"}))
    assert body.lstrip().startswith('<div id="results"')
    assert customer.name in body


def test_quality_list_without_active_scorecard_says_so(client, rm1, customer):
    Scorecard.objects.filter(status=ScorecardStatus.ACTIVE).update(status=ScorecardStatus.RETIRED)
    client.force_login(rm1)
    body = page_text(client.get(reverse("customers:data_quality")))
    assert 'data-testid="no-scorecard"' in body
    assert customer.name not in body


def test_quality_list_pages_by_50(client, rm1):
    CustomerFactory.create_batch(55, owner=rm1, team=rm1.team)
    client.force_login(rm1)
    url = reverse("customers:data_quality")
    first = client.get(url)
    assert len(first.context["rows"]) == 50
    assert len(client.get(url, {"after": str(first.context["page"].oldest.code)}).context["rows"]) == 5


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# Session, user, role; scorecard and its spec (3); policies; counts (2, capped); the capped count
# of the list; rows;
# the user's team (menu); the team and owner choices; saving the session; late background work;
# the top bar's count of exceptions waiting for a decision.
QUALITY_PAGE_QUERIES = 19


@pytest.mark.parametrize("who", ["rm1", "manager"])
def test_quality_list_query_count_does_not_grow_with_rows(client, request, who, django_assert_max_num_queries):
    user = request.getfixturevalue(who)
    rm1 = request.getfixturevalue("rm1")
    client.force_login(user)
    url = reverse("customers:data_quality")
    CustomerFactory.create_batch(5, owner=rm1, team=rm1.team)
    with django_assert_max_num_queries(QUALITY_PAGE_QUERIES):
        few = count_queries(client, url)
    CustomerFactory.create_batch(45, owner=rm1, team=rm1.team)
    with django_assert_max_num_queries(QUALITY_PAGE_QUERIES):
        many = count_queries(client, url)
    assert few == many


def test_tier_page_query_count_does_not_grow_with_customers(client, risk_officer, rm1):
    client.force_login(risk_officer)
    url = reverse("customers:tiers")
    CustomerFactory.create_batch(3, owner=rm1, team=rm1.team)
    few = count_queries(client, url)
    team = TeamFactory(name="North")
    CustomerFactory.create_batch(30, owner=make_user(None, team=team, username="north_rm"), team=team)
    assert count_queries(client, url) == few
