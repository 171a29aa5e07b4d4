"""Funnel analytics: the rollup the beat job rebuilds (exact figures on a hand-made data set,
scoped per role), the page that reads it, and the task around the rebuild.

The data set, with "now" = 2026-04-15 12:00 in Shanghai:

rm1 (East), customer tier AA — seven deals
    d1 prospect (rank 1)  d2 preliminary (2)  d3 due diligence (3)  d4 approved (4)
    d5 funded (5)  d6 lost from due diligence (3)  d7 back in preliminary from due diligence (3)
    days left in stage: prospect 2 3 4 6 7 10 (median 5, even count), preliminary 1 5 9,
    due diligence 20 40, approved 1000 (past the 730-day cap: mean stays exact)
    screened: d4 2026-03-31 17:00 UTC = April 1st in Shanghai (10 days), d5 March 31st 23:00 in
    Shanghai (30 days), d6 April (4 days)
rm2 (East), customer tier A — two funded, one lost; prospect days 100; one deal screened in
    April after 68 days
rm_west (West), customer tier B — one lost, prospect days 50; one approved deal screened 13
    months ago (outside the twelve months kept)
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.roles import Role
from crm.scope import Scope
from customers.models import Customer
from funnel import services
from funnel.analytics import CAP_DAYS, FunnelReport, WholeDays, funnel_report, median, rollup_rebuild
from funnel.models import Deal, FunnelRollup, RollupRun, Stage, StageMove, StageSetting
from funnel.tasks import funnel_rollup_rebuild
from tests.conftest import lease_held, wait_for
from tests.factories import CustomerFactory, DealFactory, make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 4, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
URL = reverse("funnel:analytics")


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def tiered(customer, tier: str) -> Customer:
    Customer.objects.filter(pk=customer.pk).update(tier=tier)
    customer.refresh_from_db()
    return customer


def deal(customer, stage: str, rank: int, amount: str, probability: int, *, created=None, screened=None) -> Deal:
    return DealFactory(
        customer=customer,
        stage=stage,
        max_rank=rank,
        amount=Decimal(amount),
        probability=probability,
        lost_reason="credit" if stage == Stage.LOST else "",
        created_at=created or NOW - timedelta(days=200),
        screened_at=screened,
    )


def left(deal: Deal, stage: str, *days: int) -> None:
    """Record moves out of ``stage`` after the given whole days (plus the deal's first move)."""
    StageMove.objects.get_or_create(
        deal=deal, from_stage="", defaults={"to_stage": Stage.PROSPECT, "by": deal.owner, "at": deal.created_at}
    )
    for n in days:
        StageMove.objects.create(
            deal=deal, from_stage=stage, to_stage=Stage.LOST, by=deal.owner, at=NOW, days_in_from_stage=n
        )


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def portfolio(now, customer, other_customer, west_customer):
    aa, a, b = tiered(customer, "AA"), tiered(other_customer, "A"), tiered(west_customer, "B")
    d1 = deal(aa, Stage.PROSPECT, 1, "1000000.00", 10)
    d2 = deal(aa, Stage.PRELIMINARY, 2, "2000000.40", 25)
    d3 = deal(aa, Stage.DUE_DILIGENCE, 3, "3000000.00", 50)
    d4 = deal(aa, Stage.APPROVED, 4, "4000000.00", 85, created=utc(2026, 3, 21, 17), screened=utc(2026, 3, 31, 17))
    d5 = deal(aa, Stage.FUNDED, 5, "5000000.00", 100, created=utc(2026, 3, 1), screened=utc(2026, 3, 31, 15))
    d6 = deal(aa, Stage.LOST, 3, "6000000.00", 0, created=utc(2026, 4, 1, 2), screened=utc(2026, 4, 5, 2))
    d7 = deal(aa, Stage.PRELIMINARY, 3, "7000000.00", 25)
    left(d1, Stage.PROSPECT, 2, 4)
    left(d2, Stage.PROSPECT, 6, 10)
    left(d3, Stage.PROSPECT, 3, 7)
    left(d4, Stage.PRELIMINARY, 1, 5, 9)
    left(d5, Stage.DUE_DILIGENCE, 20, 40)
    left(d6, Stage.APPROVED, 1000)
    left(d7, Stage.DUE_DILIGENCE)  # only the first move: nothing to count

    r1 = deal(a, Stage.FUNDED, 5, "8000000.00", 100, created=utc(2026, 2, 1), screened=utc(2026, 4, 10))
    deal(a, Stage.FUNDED, 5, "9000000.00", 100)
    deal(a, Stage.LOST, 1, "1500000.00", 0)
    left(r1, Stage.PROSPECT, 100)

    w1 = deal(b, Stage.LOST, 2, "2500000.00", 0)
    left(w1, Stage.PROSPECT, 50)
    # Screened 13 months ago: outside the twelve months kept.
    deal(b, Stage.APPROVED, 4, "1000000.00", 85, created=utc(2025, 3, 1), screened=utc(2025, 3, 10))
    rollup_rebuild()


def report_for(user) -> FunnelReport:
    return funnel_report(Scope.of(user), today=timezone.localdate())


def by_stage(rows, attribute: str) -> dict:
    return {row.stage: getattr(row, attribute) for row in rows}


def by_tier(report: FunnelReport) -> dict:
    return {row.tier: (row.funded, row.lost, row.win_rate, row.average) for row in report.tiers}


def months(report: FunnelReport) -> dict:
    return {f"{row.month:%Y-%m}": (row.deals, row.median, row.mean) for row in report.months if row.deals}


# --- The figures ------------------------------------------------------------------------------
def test_it_counts_deals_and_amounts_per_stage(portfolio, rm1):
    report = report_for(rm1)
    assert by_stage(report.stages, "count") == {
        "prospect": 1,
        "preliminary": 2,
        "due_diligence": 1,
        "approved": 1,
        "funded": 1,
        "lost": 1,
    }
    assert by_stage(report.stages, "amount")["preliminary"] == Decimal("9000000.40")
    assert report.open_count == 5
    assert report.open_amount == Decimal("17000000.40")
    # 1,000,000 × 10% + 9,000,000.40 × 25% + 3,000,000 × 50% + 4,000,000 × 85%
    assert report.open_weighted == Decimal("7250000.10")


def test_it_converts_layer_to_layer_from_the_furthest_stage_reached(portfolio, rm1):
    report = report_for(rm1)
    assert [(row.stage, row.reached, row.converted, row.rate) for row in report.layers] == [
        ("prospect", 7, 6, Decimal("85.7")),
        ("preliminary", 6, 5, Decimal("83.3")),
        ("due_diligence", 5, 2, Decimal("40.0")),
        ("approved", 2, 1, Decimal("50.0")),
        ("funded", 1, None, None),
    ]
    assert report.overall_conversion == Decimal("14.3")


def test_it_takes_medians_of_days_in_stage_with_the_even_count_rule(portfolio, rm1):
    report = report_for(rm1)
    assert by_stage(report.days, "moves") == {"prospect": 6, "preliminary": 3, "due_diligence": 2, "approved": 1}
    # 2 3 4 6 7 10: the mean of the two middle values.
    assert by_stage(report.days, "median") == {
        "prospect": Decimal("5.0"),
        "preliminary": Decimal("5.0"),
        "due_diligence": Decimal("30.0"),
        "approved": Decimal(CAP_DAYS),  # 1000 days sits in the "730 or more" bucket
    }
    # Means use the uncapped days.
    assert by_stage(report.days, "mean") == {
        "prospect": Decimal("5.3"),
        "preliminary": Decimal("5.0"),
        "due_diligence": Decimal("30.0"),
        "approved": Decimal("1000.0"),
    }
    assert by_stage(report.days, "expected") == {"prospect": 30, "preliminary": 21, "due_diligence": 45, "approved": 30}


@pytest.mark.parametrize(
    "span", [timedelta(0), timedelta(hours=23), timedelta(days=10) - timedelta(milliseconds=500), timedelta(days=10)]
)
def test_whole_days_are_floored_like_timedelta(customer, span):
    d = deal(customer, Stage.APPROVED, 4, "1.00", 85, created=NOW - span, screened=NOW)
    days = Deal.objects.filter(pk=d.pk).annotate(n=WholeDays("created_at", "screened_at")).values_list("n", flat=True)
    assert days.get() == span.days


def test_median_of_a_histogram():
    assert median({}) is None
    assert median({7: 1}) == Decimal("7.0")
    assert median({1: 1, 4: 1}) == Decimal("2.5")
    assert median({1: 2, 9: 2}) == Decimal("5.0")
    assert median({1: 2, 9: 1}) == Decimal("1.0")
    assert median({3: 1, 5: 10, 8: 1}) == Decimal("5.0")


def test_it_gives_win_rate_and_average_funded_size_by_tier(portfolio, admin_user):
    report = report_for(admin_user)
    assert by_tier(report) == {
        "AA": (1, 1, Decimal("50.0"), Decimal("5000000.00")),
        "A": (2, 1, Decimal("66.7"), Decimal("8500000.00")),
        "B": (0, 1, Decimal("0.0"), None),
        "unrated": (0, 0, None, None),
    }
    total = report.total
    assert (total.funded, total.lost, total.win_rate, total.average) == (3, 3, Decimal("50.0"), Decimal("7333333.33"))


def test_cycle_time_goes_to_the_month_of_the_decision_in_shanghai(portfolio, rm1, manager):
    # d4 was approved at 2026-03-31 17:00 UTC, which is already April 1st in Shanghai; d5 at
    # 15:00 UTC, still March 31st there.
    assert months(report_for(rm1)) == {
        "2026-03": (1, Decimal("30.0"), Decimal("30.0")),
        "2026-04": (2, Decimal("7.0"), Decimal("7.0")),
    }
    assert months(report_for(manager)) == {
        "2026-03": (1, Decimal("30.0"), Decimal("30.0")),
        "2026-04": (3, Decimal("10.0"), Decimal("27.3")),
    }


def test_it_shows_the_last_twelve_months_only(portfolio, admin_user):
    report = report_for(admin_user)
    assert next(f"{row.month:%Y-%m}" for row in report.months) == "2025-05"
    assert [f"{row.month:%Y-%m}" for row in report.months][-1] == "2026-04"
    assert "2025-03" not in months(report)
    assert not FunnelRollup.objects.filter(metric="cycle", key="2025-03").exists()


def test_the_cycle_kpi_covers_the_last_three_months(portfolio, rm1, manager):
    assert (report_for(rm1).cycle_median, report_for(rm1).cycle_deals) == (Decimal("10.0"), 3)
    # 4 10 30 68
    assert (report_for(manager).cycle_median, report_for(manager).cycle_deals) == (Decimal("20.0"), 4)


def test_days_in_stage_come_from_real_moves(now, deal, rm1):
    now.shift(timedelta(days=3, hours=5))
    services.deal_move(deal=deal, to_stage=Stage.PRELIMINARY, seen_stage=Stage.PROSPECT, by=rm1)
    rollup_rebuild()
    report = report_for(rm1)
    assert by_stage(report.days, "median")["prospect"] == Decimal("3.0")
    assert [row.reached for row in report.layers][:3] == [1, 1, 0]


# --- Who sees what ----------------------------------------------------------------------------
def test_rm_counts_only_own_customers(portfolio, rm1, rm2):
    assert sum(row.count for row in report_for(rm1).stages) == 7
    assert by_tier(report_for(rm1))["A"] == (0, 0, None, None)
    assert by_stage(report_for(rm1).days, "moves")["prospect"] == 6  # not rm2's 100 days
    assert sum(row.count for row in report_for(rm2).stages) == 3
    assert by_stage(report_for(rm2).days, "median")["prospect"] == Decimal("100.0")


def test_manager_counts_the_team_but_not_the_west(portfolio, manager):
    report = report_for(manager)
    assert sum(row.count for row in report.stages) == 10
    assert by_tier(report)["B"] == (0, 0, None, None)
    assert by_stage(report.days, "moves")["prospect"] == 7
    assert by_stage(report.days, "median")["prospect"] == Decimal("6.0")  # 2 3 4 6 7 10 100


def test_admin_and_risk_count_everything(portfolio, admin_user, risk_officer):
    for user in (admin_user, risk_officer):
        report = report_for(user)
        assert sum(row.count for row in report.stages) == 12
        assert by_stage(report.days, "moves")["prospect"] == 8
        assert [row.reached for row in report.layers] == [12, 10, 8, 5, 3]


def test_user_without_role_sees_nothing(portfolio):
    nobody = make_user(None, username="nobody")
    report = report_for(nobody)
    assert sum(row.count for row in report.stages) == 0
    assert report.total.win_rate is None


def test_manager_without_team_sees_nothing(portfolio):
    loner = make_user(Role.TEAM_MANAGER, username="loner")
    assert sum(row.count for row in report_for(loner).stages) == 0


def test_rm_with_customers_in_two_teams_sees_both(portfolio, rm1, other_team):
    tiered(CustomerFactory(owner=rm1, team=other_team), "B")
    deal(Customer.objects.get(owner=rm1, team=other_team), Stage.PROSPECT, 1, "100.00", 10)
    rollup_rebuild()
    assert sum(row.count for row in report_for(rm1).stages) == 8


def test_a_customer_handed_to_another_rm_takes_its_figures_along(portfolio, customer, rm1, rm2):
    Customer.objects.filter(pk=customer.pk).update(owner=rm2)
    rollup_rebuild()
    assert sum(row.count for row in report_for(rm1).stages) == 0
    assert sum(row.count for row in report_for(rm2).stages) == 10


# --- The rebuild ------------------------------------------------------------------------------
def rows() -> list[tuple]:
    return sorted(
        FunnelRollup.objects.values_list("owner_id", "team_id", "metric", "key", "bucket", "count", "amount", "days"),
        key=repr,
    )


def test_rebuild_is_idempotent(portfolio):
    first = rows()
    run = rollup_rebuild()
    assert rows() == first
    assert RollupRun.objects.count() == 1
    assert run.deals == 12
    assert len(first) > 20


def test_rebuild_follows_changes(portfolio, rm1):
    Deal.objects.filter(owner=rm1, stage=Stage.PROSPECT).update(stage=Stage.PRELIMINARY, max_rank=2)
    rollup_rebuild()
    report = report_for(rm1)
    assert by_stage(report.stages, "count")["prospect"] == 0
    assert by_stage(report.stages, "count")["preliminary"] == 3


def test_the_levels_add_up(portfolio):
    """Team totals are the sums of their owners' rows, and the firm total of the teams'."""

    def total(**level):
        return sorted(
            FunnelRollup.objects.filter(**level)
            .values("metric", "key", "bucket")
            .annotate(n=Sum("count"))
            .values_list("metric", "key", "bucket", "n"),
            key=repr,
        )

    owners = total(owner_id__isnull=False)
    assert total(owner_id__isnull=True, team_id__isnull=False) == owners
    assert total(owner_id__isnull=True, team_id__isnull=True) == owners


def test_task_rebuilds_and_reports_the_deals(portfolio):
    result = funnel_rollup_rebuild()
    assert "skipped" not in result
    assert result["deals"] == 12
    assert result["seconds"] >= 0


def test_task_skips_while_another_rebuild_holds_the_lock(portfolio):
    RollupRun.objects.update(deals=0)
    with lease_held("funnel_rollup_rebuild"):
        assert funnel_rollup_rebuild() == {"skipped": True}
    assert RollupRun.objects.get().deals == 0  # nothing rebuilt
    assert "skipped" not in funnel_rollup_rebuild()


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rebuild_runs_through_a_real_worker(celery_worker, customer):
    """Outside a test transaction, so PostgreSQL takes the REPEATABLE READ path as in production."""
    deal(customer, Stage.PROSPECT, 1, "100.00", 10)
    funnel_rollup_rebuild.delay()
    assert wait_for(lambda: RollupRun.objects.filter(deals=1).exists()), "the worker did not rebuild"
    assert FunnelRollup.objects.get(owner_id=customer.owner_id, metric="stage").count == 1


# --- The page ---------------------------------------------------------------------------------
def test_page_requires_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_page_rejects_post(client, rm1):
    client.force_login(rm1)
    assert client.post(URL).status_code == 405


def test_page_says_figures_are_being_prepared_before_the_first_rebuild(client, rm1, customer):
    deal(customer, Stage.PROSPECT, 1, "100.00", 10)
    client.force_login(rm1)
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="preparing"' in html
    assert "Figures are being prepared." in html
    assert 'data-testid="kpis"' not in html
    assert "chart.umd.min.js" not in html


def test_page_shows_the_figures_as_of_the_last_rebuild(portfolio, client, rm1):
    client.force_login(rm1)
    html = client.get(URL).content.decode()
    assert "Figures as of 2026-04-15 12:00 CST" in html
    assert 'data-testid="preparing"' not in html
    assert 'data-testid="stale"' not in html
    assert "Your customers" in html
    assert 'data-testid="kpi-open-count">5<' in html
    # The cards show the amount at a glance (exact on hover and in the stage table below), so
    # that a firm's pipeline of trillions fits the card.
    assert 'data-testid="kpi-open-amount" title="17,000,000.40">¥17.0M<' in html
    assert 'data-testid="kpi-weighted" title="7,250,000.10">¥7.3M<' in html
    assert 'data-testid="conversion-preliminary">83.3%<' in html
    assert 'data-testid="win-rate-AA">50.0%<' in html
    assert 'data-testid="average-AA">5,000,000.00<' in html
    assert 'data-testid="amount-preliminary">9,000,000.40<' in html
    assert 'data-testid="cycle-median-2026-04">7<' in html
    assert 'data-testid="cycle-mean-2026-04">7.0<' in html
    assert "≥ 730" in html  # approved: past the cap
    assert 'id="funnel-analytics-data"' in html
    assert "js/funnel_analytics.js" in html


def test_page_uses_the_stage_names_admins_chose(portfolio, client, rm1):
    StageSetting.objects.filter(stage=Stage.DUE_DILIGENCE).update(display_name="Deep dive")
    client.force_login(rm1)
    assert "Deep dive" in client.get(URL).content.decode()


def test_page_warns_when_the_figures_are_old(portfolio, client, rm1, now):
    now.shift(timedelta(hours=2))
    client.force_login(rm1)
    assert 'data-testid="stale"' in client.get(URL).content.decode()


def test_page_for_rm_hides_other_rms_figures(portfolio, client, rm2):
    client.force_login(rm2)
    html = client.get(URL).content.decode()
    assert 'data-testid="win-rate-A">66.7%<' in html
    assert 'data-testid="win-rate-AA">—<' in html


def test_page_query_count_does_not_grow_with_the_deals(now, client, rm1, admin_user, customer):
    def count(user) -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        # The page reads the rollup once and never the deals or their moves. (The top bar's
        # badge counts the pending exception requests, a handful, through their deals.)
        sql = [query["sql"] for query in captured.captured_queries]
        sql = [q for q in sql if not q.lstrip().startswith('SELECT COUNT(*) AS "__count" FROM "funnel_termsexception"')]
        assert sum("funnel_funnelrollup" in q for q in sql) == 1
        assert not any("funnel_deal" in q or "funnel_stagemove" in q for q in sql)
        return len(sql)

    deal(customer, Stage.PROSPECT, 1, "100.00", 10)
    rollup_rebuild()
    few = count(rm1), count(admin_user)

    for i in range(40):
        d = deal(
            customer,
            [Stage.PRELIMINARY, Stage.APPROVED, Stage.FUNDED, Stage.LOST][i % 4],
            1 + i % 5,
            f"{1000 + i}.00",
            25,
            created=NOW - timedelta(days=30 * (i % 12) + i),
            screened=NOW - timedelta(days=30 * (i % 12)),
        )
        left(d, Stage.PROSPECT, i, i + 3)
    rollup_rebuild()
    assert FunnelRollup.objects.count() > 100
    assert (count(rm1), count(admin_user)) == few
