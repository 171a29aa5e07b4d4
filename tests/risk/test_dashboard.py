"""The risk dashboard page: KPI maths, the baseline form, what each role sees, the live panels,
the query count, and the page with the broker down.

"Now" is 2026-04-15 12:00 in Shanghai. The KPI figures are written as ``RiskMonth`` rows
directly (the rollup's own figures are tested in test_dashboard_rollup.py); the live panels
read real alerts, customers and facilities."""

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.db.models import F
from django.urls import reverse

from crm.models import Job, JobLock
from crm.roles import Role
from crm.scope import Scope
from customers.models import Customer
from risk.dashboard import Figures, Kpi, default_periods, percent, risk_report, rollup_rebuild
from risk.dashboard.forms import DashboardForm
from risk.models import Alert, AlertDayTotal, AlertDayZone, AlertRule, AlertStatus, AlertTotal, RiskMonth
from tests.conftest import broker_at, free_port, silent_server
from tests.factories import CustomerFactory, FacilityFactory, add_installments, customer_form_data, make_user

D = Decimal
NOW = datetime(2026, 4, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
TODAY = date(2026, 4, 15)
URL = reverse("risk:dashboard")


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def month_row(month: date, *, owner=None, team=None, **figures) -> RiskMonth:
    return RiskMonth.objects.create(
        month=month, owner_id=owner.pk if owner else None, team_id=team.pk if team else None, **figures
    )


def render(client, user, query: str = "") -> str:
    client.force_login(user)
    response = client.get(URL + query)
    assert response.status_code == 200
    return response.content.decode()


def hook(name: str, value: str) -> str:
    return f'data-testid="{name}">{value}<'


# --- KPI maths ----------------------------------------------------------------------------------
def test_kpis_are_ratios_in_percent_to_one_decimal():
    figures = Figures(
        due=D("300.00"),
        repaid=D("200.00"),
        exposure=D("1000.00"),
        exposure_b=D("150.00"),
        exposure_overdue=D("100.00"),
        screened=3,
        screened_funded=2,
        snapshots=1,
    )
    assert figures.recovery_rate == D("66.7")
    assert figures.portfolio_risk == D("25.0")  # (150 + 100) ÷ 1000: B and overdue-not-B, disjoint
    assert figures.screening_efficiency == D("66.7")


def test_kpis_without_a_denominator_are_none():
    empty = Figures()
    assert (empty.recovery_rate, empty.portfolio_risk, empty.screening_efficiency) == (None, None, None)
    assert Figures(repaid=D("10.00")).recovery_rate is None  # repaid with nothing due
    assert Figures(exposure=D("0.00"), snapshots=1).portfolio_risk is None
    assert percent(1, 0) is None


def test_a_period_is_a_ratio_of_sums_not_an_average_of_ratios():
    january = Figures(due=D("100.00"), repaid=D("100.00"), exposure=D("100.00"), exposure_b=D("0"), snapshots=1)
    february = Figures(due=D("900.00"), repaid=D("0.00"), exposure=D("300.00"), exposure_b=D("300.00"), snapshots=1)
    both = january + february
    assert both.recovery_rate == D("10.0")  # 100 ÷ 1000, not (100 % + 0 %) ÷ 2
    assert both.portfolio_risk == D("75.0")  # 300 ÷ 400
    assert both.average_exposure == D("200.00")
    # A month without a snapshot adds flows but no exposure.
    assert (both + Figures(due=D("1.00"))).portfolio_risk == D("75.0")


@pytest.mark.parametrize(
    ("current", "baseline", "higher_is_better", "difference", "verdict"),
    [
        (D("90.0"), D("80.5"), True, D("9.5"), "better"),
        (D("70.0"), D("80.0"), True, D("-10.0"), "worse"),
        (D("30.0"), D("20.0"), False, D("10.0"), "worse"),  # portfolio risk went up
        (D("10.0"), D("20.0"), False, D("-10.0"), "better"),
        (D("50.0"), D("50.0"), True, D("0.0"), "same"),
        (None, D("50.0"), True, None, ""),
        (D("50.0"), None, True, None, ""),
    ],
)
def test_difference_in_points_and_its_verdict(current, baseline, higher_is_better, difference, verdict):
    kpi = Kpi("k", "K", current, baseline, higher_is_better)
    assert kpi.difference == difference
    assert kpi.verdict == verdict


def test_current_period_ends_with_the_latest_month_that_has_figures():
    every = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, m, 1) for m in range(1, 5)]
    assert default_periods(TODAY, every)[0] == (date(2026, 2, 1), date(2026, 4, 1))
    # Nothing yet this month (e.g. before the first installment falls due and the first rebuild):
    # the last three months that have figures, not a period that is two-thirds empty.
    assert default_periods(TODAY, every[:-1])[0] == (date(2026, 1, 1), date(2026, 3, 1))
    assert default_periods(TODAY, [])[0] == (date(2026, 2, 1), date(2026, 4, 1))


def test_default_baseline_is_the_last_months_with_figures_before_the_current_ones():
    every = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, m, 1) for m in range(1, 5)]
    assert default_periods(TODAY, every)[1] == (date(2025, 11, 1), date(2026, 1, 1))
    # Figures only in a few earlier months, with a gap: the baseline reaches back to them.
    sparse = [date(2025, 6, 1), date(2025, 9, 1), date(2026, 3, 1), date(2026, 4, 1)]
    assert default_periods(TODAY, sparse)[1] == (date(2025, 6, 1), date(2025, 9, 1))
    # No earlier figure at all: the months just before the current ones, and nothing to compare.
    assert default_periods(TODAY, [date(2026, 4, 1)])[1] == (date(2025, 11, 1), date(2026, 1, 1))


@pytest.fixture
def months(now, team, other_team, rm1, rm2, rm_west):
    """Monthly rows at every level: East (rm1 and rm2) and West (rm_west)."""

    def level(month, *, owner=None, team=None, due, repaid, exposure=None, b=None, overdue=None, screened=0, ok=0):
        return month_row(
            month,
            owner=owner,
            team=team,
            due=D(due),
            repaid=D(repaid),
            exposure=None if exposure is None else D(exposure),
            exposure_b=None if b is None else D(b),
            exposure_overdue=None if overdue is None else D(overdue),
            screened=screened,
            screened_funded=ok,
        )

    for month in (date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)):  # the default baseline
        level(month, owner=rm1, team=team, due="1000.00", repaid="900.00", exposure="5000.00", b="500.00", overdue="0")
        level(month, owner=rm2, team=team, due="1000.00", repaid="1000.00", screened=2, ok=1)
        level(
            month,
            team=team,
            due="2000.00",
            repaid="1900.00",
            exposure="5000.00",
            b="500.00",
            overdue="0",
            screened=2,
            ok=1,
        )
        level(month, due="2000.00", repaid="1900.00", exposure="5000.00", b="500.00", overdue="0", screened=2, ok=1)
    for month in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):  # the current period
        level(
            month,
            owner=rm1,
            team=team,
            due="1000.00",
            repaid="700.00",
            exposure="8000.00",
            b="1000.00",
            overdue="1000.00",
            screened=1,
            ok=1,
        )
        level(month, owner=rm2, team=team, due="3000.00", repaid="3000.00")
        level(
            month,
            owner=rm_west,
            team=other_team,
            due="7777.00",
            repaid="1234.00",
            exposure="99999.00",
            b="0",
            overdue="0",
        )
        level(
            month,
            team=team,
            due="4000.00",
            repaid="3700.00",
            exposure="8000.00",
            b="1000.00",
            overdue="1000.00",
            screened=1,
            ok=1,
        )
        level(month, team=other_team, due="7777.00", repaid="1234.00", exposure="99999.00", b="0", overdue="0")
        level(
            month,
            due="11777.00",
            repaid="4934.00",
            exposure="107999.00",
            b="1000.00",
            overdue="1000.00",
            screened=1,
            ok=1,
        )


def kpis(user, **kwargs) -> dict:
    return {
        kpi.key: (kpi.current, kpi.baseline, kpi.verdict)
        for kpi in risk_report(Scope.of(user), today=TODAY, **kwargs).kpis
    }


def test_manager_kpis_compare_the_team_with_its_default_baseline(months, manager):
    assert kpis(manager) == {
        "recovery_rate": (D("92.5"), D("95.0"), "worse"),  # 11,100 ÷ 12,000 against 5,700 ÷ 6,000
        "portfolio_risk": (D("25.0"), D("10.0"), "worse"),  # 6,000 ÷ 24,000 against 1,500 ÷ 15,000
        "screening_efficiency": (D("100.0"), D("50.0"), "better"),
    }


def test_rm_kpis_are_their_own(months, rm1, rm2):
    assert kpis(rm1)["recovery_rate"] == (D("70.0"), D("90.0"), "worse")
    assert kpis(rm2)["recovery_rate"] == (D("100.0"), D("100.0"), "same")
    assert kpis(rm2)["portfolio_risk"] == (None, None, "")


def test_a_picked_baseline_replaces_the_default(months, manager):
    picked = kpis(manager, baseline=(date(2026, 2, 1), date(2026, 2, 1)))
    assert picked["recovery_rate"] == (D("92.5"), D("92.5"), "same")


# --- Access --------------------------------------------------------------------------------------
def test_page_requires_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_page_rejects_post(client, manager):
    client.force_login(manager)
    assert client.post(URL).status_code == 405


def test_user_without_a_role_gets_404(client, db):
    client.force_login(make_user(None, username="nobody"))
    assert client.get(URL).status_code == 404


@pytest.fixture
def live(now, customer, other_customer, west_customer):
    """Facilities, alerts and review dates of the three customers, and a rollup rebuild."""
    Customer.objects.filter(pk=customer.pk).update(tier="A", next_review_date=TODAY - timedelta(days=10))
    Customer.objects.filter(pk=other_customer.pk).update(tier="B", watch_review_by=TODAY + timedelta(days=3))
    Customer.objects.filter(pk=west_customer.pk).update(
        tier="AA", watch_review_by=TODAY + timedelta(days=1), next_review_date=TODAY - timedelta(days=40)
    )
    FacilityFactory(customer=customer, drawn=D("1234567.89"))
    FacilityFactory(customer=other_customer, drawn=D("2222222.22"))
    FacilityFactory(customer=west_customer, drawn=D("9876543.21"))
    rule = AlertRule.objects.create(
        name="Payment more than 30 days overdue", kind="payment_overdue", severity="critical"
    )
    warn = AlertRule.objects.create(name="Debt ratio above 70%", kind="debt_ratio_high", severity="warning")
    alerts = {
        "mine": Alert.objects.create(
            customer=customer, rule=rule, severity="critical", opened_at=NOW - timedelta(days=2)
        ),
        "teammate": Alert.objects.create(
            customer=other_customer, rule=warn, severity="warning", opened_at=NOW - timedelta(days=9)
        ),
        "west": Alert.objects.create(
            customer=west_customer, rule=rule, severity="critical", opened_at=NOW - timedelta(hours=3)
        ),
        "acknowledged": Alert.objects.create(
            customer=customer,
            rule=warn,
            severity="warning",
            status=AlertStatus.ACKNOWLEDGED,
            opened_at=NOW - timedelta(days=20),
        ),
    }
    rollup_rebuild()  # exposure by tier is the rollup's snapshot
    return alerts


def test_rm_sees_only_own_customers_and_figures(live, client, rm1, customer, other_customer, west_customer):
    html = render(client, rm1)
    assert "Your customers" in html
    assert customer.name in html
    assert other_customer.name not in html and west_customer.name not in html
    assert "2,222,222.22" not in html and "9,876,543.21" not in html
    assert hook("exposure-A", "1,234,567.89") in html
    assert hook("exposure-total", "1,234,567.89") in html
    assert f'data-alert="{live["mine"].code}"' in html
    assert f'data-alert="{live["teammate"].code}"' not in html
    assert hook("open-critical", "1") in html and hook("open-warning", "0") in html
    assert hook("acknowledged-warning", "1") in html
    assert hook(f"team-{rm1.team.code}-all", "2") in html  # their own alerts, in their team's row


def test_manager_sees_the_team_but_not_the_west(live, client, manager, team, customer, other_customer, west_customer):
    html = render(client, manager)
    assert f"Customers of team {team.name}" in html
    assert customer.name in html and other_customer.name in html
    assert west_customer.name not in html and "9,876,543.21" not in html
    assert hook("exposure-total", "3,456,790.11") in html
    assert f'data-team="{team.code}"' in html
    assert hook(f"team-{team.code}-critical", "1") in html  # the link is the manager's alert list
    assert hook(f"team-{team.code}-warning", "2") in html
    assert hook(f"team-{team.code}-all", "3") in html
    assert f'data-team="{west_customer.team.code}"' not in html  # no row for the other team
    assert hook("alerts-unresolved", "3") in html


def test_risk_officer_sees_everything_and_can_narrow_to_a_team(
    live, client, risk_officer, other_team, west_customer, customer
):
    html = render(client, risk_officer)
    assert "All customers" in html
    assert west_customer.name in html and customer.name in html
    assert hook("exposure-total", "13,333,333.32") in html
    narrowed = render(client, risk_officer, f"?team={other_team.code}")
    assert f"Customers of team {other_team.name}" in narrowed
    assert customer.name not in narrowed
    assert hook("exposure-total", "9,876,543.21") in narrowed
    assert f"team={other_team.code}" in narrowed  # links keep the team
    assert hook(f"team-{other_team.code}-critical", "1") in narrowed
    assert narrowed.count("data-team=") == 1


def test_unresolved_counts_come_from_the_kept_counts_cut_to_the_scope(
    live, client, rm1, manager, risk_officer, team, other_team
):
    """The counts are the database's kept ones (risk.models.AlertTotal): spoiled by 100, every
    role sees its own rows spoiled, and no one sees another's."""
    AlertTotal.objects.exclude(count=0).update(count=F("count") + 100)
    assert hook("open-critical", "101") in render(client, rm1)  # their one open critical alert
    assert hook("alerts-unresolved", "303") in render(client, manager)  # three rows of the team
    html = render(client, risk_officer)
    assert hook(f"team-{team.code}-all", "303") in html
    assert hook(f"team-{other_team.code}-all", "101") in html
    narrowed = render(client, risk_officer, f"?team={other_team.code}")
    assert hook("alerts-unresolved", "101") in narrowed


def test_team_filter_is_not_offered_to_a_manager(live, client, manager, other_team, west_customer):
    html = render(client, manager, f"?team={other_team.code}")
    assert 'name="team"' not in html
    assert west_customer.name not in html  # the parameter is ignored, not obeyed


# --- Baseline form ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?baseline_from=2026-13&baseline_to=2026-02", "error-baseline_from"),
        ("?baseline_from=yesterday&baseline_to=2026-02", "error-baseline_from"),
        ("?baseline_from=2026-03&baseline_to=2026-02", "error-baseline_to"),
        ("?baseline_from=2020-01&baseline_to=2020-03", "error-baseline_from"),  # older than kept
        ("?baseline_from=2026-03&baseline_to=2026-06", "error-baseline_to"),  # in the future
        ("?baseline_from=2026-03", "error-baseline"),  # only one of the two
        ("?team=not-a-team", "error-team"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(months, client, risk_officer, query, error):
    html = render(client, risk_officer, query)
    assert f'data-testid="{error}"' in html
    # The default baseline stands in meanwhile.
    assert hook("kpi-recovery_rate-baseline", "95.0%") in html


def test_a_picked_baseline_shows_on_the_page(months, client, manager):
    html = render(client, manager, "?baseline_from=2026-02&baseline_to=2026-02")
    assert hook("kpi-recovery_rate-baseline", "92.5%") in html
    assert "(2026-02 – 2026-02)" in html
    assert "error-" not in html


def test_form_cleans_months_to_their_first_day():
    form = DashboardForm(
        {"baseline_from": "2025-05", "baseline_to": "2025-07"},
        teams=None,
        first=date(2024, 5, 1),
        last=date(2026, 4, 1),
    )
    assert form.is_valid(), form.errors
    assert form.baseline == (date(2025, 5, 1), date(2025, 7, 1))
    assert DashboardForm({}, teams=None, first=date(2024, 5, 1), last=date(2026, 4, 1)).baseline is None


# --- What the page shows --------------------------------------------------------------------
def test_kpi_cards_show_current_baseline_and_coloured_difference(months, client, manager):
    html = render(client, manager)
    assert hook("kpi-recovery_rate", "92.5%") in html
    assert hook("kpi-recovery_rate-baseline", "95.0%") in html
    assert 'data-testid="kpi-recovery_rate-difference" data-verdict="worse"' in html
    assert "-2.5 pts" in html
    assert 'data-testid="kpi-screening_efficiency-difference" data-verdict="better"' in html
    assert "+50.0 pts" in html
    assert hook("recovery-2026-03", "92.5%") in html
    assert hook("risk-2026-03", "25.0%") in html
    assert "(2025-02 – 2025-04, default)" in html
    assert 'id="risk-dashboard-data"' in html and "js/risk_dashboard.js" in html


def test_kpi_without_figures_shows_a_dash(now, client, rm1, customer):
    month_row(date(2026, 4, 1), owner=rm1, team=rm1.team, due=D("0"), repaid=D("0"))
    html = render(client, rm1)
    assert hook("kpi-recovery_rate", "—") in html
    assert hook("kpi-portfolio_risk", "—") in html
    assert hook("recovery-2026-04", "—") in html
    assert 'data-verdict=""' in html


def test_page_says_the_indicators_are_being_prepared_before_the_first_rebuild(now, client, manager):
    html = render(client, manager)
    assert 'data-testid="preparing"' in html
    assert 'data-testid="kpis"' in html  # the cards are there, with dashes


def test_exposure_by_tier_says_it_is_not_measured_before_the_first_rebuild(now, client, manager, customer):
    FacilityFactory(customer=customer, drawn=D("5000.00"))
    html = render(client, manager)
    assert 'data-testid="exposure-pending"' in html
    assert "Not measured yet" in html
    assert 'data-testid="exposure-total"' not in html and 'id="tier-chart"' not in html
    rollup_rebuild()
    html = render(client, manager)
    assert 'data-testid="exposure-pending"' not in html
    assert hook("exposure-total", "5,000.00") in html


def test_exposure_by_tier_moves_at_the_rebuild_not_before(live, client, manager, customer):
    """The panel is the snapshot of the last rebuild, "as of" its time like the indicators."""
    FacilityFactory(customer=customer, drawn=D("1000.00"))
    Customer.objects.filter(pk=customer.pk).update(tier="B")
    html = render(client, manager)
    assert hook("exposure-A", "1,234,567.89") in html and hook("exposure-total", "3,456,790.11") in html
    rollup_rebuild()
    html = render(client, manager)
    assert hook("exposure-A", "0.00") in html
    assert hook("exposure-B", "3,457,790.11") in html and hook("exposure-total", "3,457,790.11") in html


def test_page_says_when_the_indicators_were_computed_and_when_they_are_old(months, client, manager, now):
    JobLock.objects.create(name="risk_rollup_rebuild", last_finished_at=NOW - timedelta(minutes=10))
    html = render(client, manager)
    assert "Indicators and exposure by tier as of 2026-04-15 11:50 CST" in html
    assert 'data-testid="stale"' not in html
    now.shift(timedelta(hours=3))
    assert 'data-testid="stale"' in render(client, manager)


def test_counts_link_to_the_alert_list_filtered_the_same_way(live, client, risk_officer, team):
    html = render(client, risk_officer)
    assert 'href="/risk/alerts/?severity=critical&amp;status=open" data-testid="open-critical">2<' in html
    assert 'href="/risk/alerts/?severity=warning&amp;status=acknowledged"' in html
    assert (
        f'href="/risk/alerts/?severity=critical&amp;team={team.code}" data-testid="team-{team.code}-critical">1<'
        in html
    )
    assert f'href="/risk/alerts/?team={team.code}" data-testid="team-{team.code}-all">3<' in html


def test_alerts_to_act_on_are_unresolved_critical_and_warning_newest_first(live, client, manager, customer):
    info = AlertRule.objects.create(name="Scorecard inputs stale", kind="inputs_stale", severity="info")
    quiet = Alert.objects.create(customer=customer, rule=info, severity="info", opened_at=NOW)
    html = render(client, manager)
    mine, teammate, acknowledged = live["mine"], live["teammate"], live["acknowledged"]
    assert html.index(f'data-alert="{mine.code}"') < html.index(f'data-alert="{teammate.code}"')
    assert html.index(f'data-alert="{teammate.code}"') < html.index(f'data-alert="{acknowledged.code}"')
    assert f'data-alert="{quiet.code}"' not in html  # info alerts wait on the alert list
    assert html.count('data-testid="acknowledged"') == 1
    assert f'action="{reverse("risk:alert_acknowledge", args=[mine.code])}"' in html
    assert f'action="{reverse("risk:alert_acknowledge", args=[acknowledged.code])}"' not in html
    assert f'action="{reverse("risk:alert_resolve", args=[acknowledged.code])}"' in html
    assert '<input type="hidden" name="next" value="/risk/dashboard/">' in html
    assert 'name="note"' in html


def test_acknowledging_from_the_dashboard_comes_back_to_it(live, client, manager):
    client.force_login(manager)
    mine = live["mine"]
    response = client.post(reverse("risk:alert_acknowledge", args=[mine.code]), {"next": URL})
    assert response.status_code == 302
    assert response["Location"] == URL
    mine.refresh_from_db()
    assert mine.status == AlertStatus.ACKNOWLEDGED
    html = render(client, manager)
    assert f'action="{reverse("risk:alert_acknowledge", args=[mine.code])}"' not in html
    response = client.post(reverse("risk:alert_resolve", args=[mine.code]), {"next": URL, "note": "Paid."})
    assert response["Location"] == URL
    assert f'data-alert="{mine.code}"' not in render(client, manager)


def test_new_alerts_per_week_count_by_local_week(live, client, risk_officer):
    html = render(client, risk_officer)
    # 2026-04-15 is a Wednesday: this week began on Monday the 13th.
    assert hook("week-2026-04-13", "2") in html  # 2 days and 3 hours ago
    assert hook("week-2026-04-06", "1") in html  # 9 days ago
    assert hook("week-2026-03-23", "1") in html  # 20 days ago: the acknowledged one counts too
    assert hook("weeks-total", "4") in html


@pytest.fixture
def days_kept(db):
    """The zone the migration recorded, as a test database has it (a flush by an earlier
    transactional test empties that table with the others)."""
    AlertDayZone.objects.get_or_create(zone=settings.TIME_ZONE)


def test_weeks_come_from_the_kept_days_cut_to_the_scope(days_kept, live, client, rm1, manager, risk_officer):
    """Spoiled by 1,000 per kept row, every role sees its own rows spoiled, and no one another's.
    (SQLite leaves rows of 0 behind under owner 0, from the moment an alert has no owner yet.)"""
    AlertDayTotal.objects.exclude(count=0).update(count=F("count") + 1000)
    assert hook("weeks-total", "2,002") in render(client, rm1)  # two alerts on two days
    assert hook("weeks-total", "3,003") in render(client, manager)
    assert hook("week-2026-04-13", "2,002") in render(client, risk_officer)


def test_weeks_are_counted_from_the_alerts_when_the_kept_days_are_of_another_zone(
    days_kept, live, client, risk_officer
):
    """After a change of TIME_ZONE the kept days are the old zone's: the chart counts the alerts
    until the triggers are made again in the new zone."""
    AlertDayTotal.objects.exclude(count=0).update(count=F("count") + 100)
    AlertDayZone.objects.update(zone="Europe/Berlin")
    html = render(client, risk_officer)
    assert hook("week-2026-04-13", "2") in html
    assert hook("weeks-total", "4") in html


def test_watch_list_and_reviews_overdue_in_order_with_counts(
    live, client, risk_officer, other_customer, west_customer, customer
):
    html = render(client, risk_officer)
    assert hook("watch-count", "2") in html
    watch = html[html.index('data-testid="watch-list"') :]
    assert watch.index(west_customer.name) < watch.index(other_customer.name)  # review by soonest first
    assert hook("overdue-count", "2") in html
    overdue = html[html.index('data-testid="reviews-overdue"') :]
    assert overdue.index(west_customer.name) < overdue.index(customer.name)  # most overdue first
    assert "40 days late" in overdue


def test_reviews_overdue_are_counted_beyond_the_eight_listed_and_show_more_lists_twenty(now, client, manager, rm1):
    for n in range(23):
        CustomerFactory(owner=rm1, team=rm1.team, next_review_date=TODAY - timedelta(days=n + 1))
    html = render(client, manager)
    assert hook("overdue-count", "23") in html
    assert "The 8 most overdue of 23." in html
    listed = html[html.index('data-testid="reviews-overdue"') :]
    assert listed[: listed.index("</table>")].count("<tr data-customer") == 8
    assert 'href="/risk/dashboard/?lists=all#overdue-h" data-testid="overdue-all"' in html
    everything = render(client, manager, "?lists=all")
    assert "The 20 most overdue of 23." in everything
    assert 'data-testid="overdue-all"' not in everything


# --- Cost ------------------------------------------------------------------------------------
def test_page_query_count_does_not_grow_with_alerts_and_facilities(
    now, client, django_assert_max_num_queries, manager, risk_officer, rm1, customer
):
    rollup_rebuild()

    def count(user) -> int:
        client.force_login(user)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured.captured_queries)

    # Lists past their 20 rows from the start: counting beyond them is one more query each.
    for n in range(25):
        CustomerFactory(
            owner=rm1,
            team=rm1.team,
            watch_review_by=TODAY + timedelta(days=n),
            next_review_date=TODAY - timedelta(days=n + 1),
        )
    few = count(manager), count(risk_officer)
    rules = [
        AlertRule.objects.create(name=f"r{n}", kind="debt_ratio_high", severity=s)
        for n, s in enumerate(["critical", "warning", "info"])
    ]
    for n in range(40):
        c = CustomerFactory(
            owner=rm1,
            team=rm1.team,
            watch_review_by=TODAY + timedelta(days=n),
            next_review_date=TODAY - timedelta(days=n + 1),
        )
        f = FacilityFactory(customer=c, drawn=D(f"{1000 + n}.00"))
        add_installments(f, [(TODAY - timedelta(days=5), "10.00", "1.00")])
        for rule in rules:
            Alert.objects.create(customer=c, rule=rule, severity=rule.severity, opened_at=NOW - timedelta(days=n))
    rollup_rebuild()
    assert (count(manager), count(risk_officer)) == few
    client.force_login(manager)
    with django_assert_max_num_queries(21):
        assert client.get(URL).status_code == 200


# --- Broker down -------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", ["refused", "silent"])
def test_page_answers_fast_and_says_processing_is_delayed_with_the_broker_down(client, rm1, customer, broker):
    """The dashboard never talks to the broker; when an action could not queue its job, the page
    still answers within 2 seconds and carries the notice."""

    FacilityFactory(customer=customer, drawn=D("5000.00"))
    rollup_rebuild()
    client.force_login(rm1)

    def timed_get():
        started = time.monotonic()
        response = client.get(URL)
        return response, time.monotonic() - started

    with silent_server() as port:
        url = f"redis://127.0.0.1:{free_port() if broker == 'refused' else port}/0"
        with broker_at(url):
            response, seconds = timed_get()
            assert response.status_code == 200 and seconds < 2
            assert not Job.objects.exists()  # viewing the page asked for nothing
            # An RM's change that asks for background work meets the dead broker ...
            assert client.post(reverse("customers:create"), customer_form_data()).status_code == 302
            response, seconds = timed_get()
    assert response.status_code == 200
    assert seconds < 2
    html = response.content.decode()
    assert 'data-testid="broker-delayed"' in html
    assert "Background processing is delayed" in html
    assert hook("exposure-total", "5,000.00") in html


def test_no_delayed_notice_while_the_broker_works(now, client, rm1):
    assert 'data-testid="broker-delayed"' not in render(client, rm1)


def test_manager_of_another_team_sees_none_of_it(live, client, other_team, customer, west_customer):
    west_manager = make_user(Role.TEAM_MANAGER, team=other_team, username="west_manager")
    html = render(client, west_manager)
    assert west_customer.name in html
    assert customer.name not in html
    assert "1,234,567.89" not in html


def test_escalated_then_critical_alerts_come_before_newer_warnings(live, client, manager, customer):
    warn = AlertRule.objects.create(name="Credit bureau rating downgraded", kind="bureau_downgrade", severity="warning")
    newest_warning = Alert.objects.create(customer=customer, rule=warn, severity="warning", opened_at=NOW)
    mine = live["mine"]  # critical, two days old
    old_rule = AlertRule.objects.create(name="Credit limit breached", kind="limit_breach", severity="critical")
    escalated = Alert.objects.create(
        customer=customer,
        rule=old_rule,
        severity="critical",
        opened_at=NOW - timedelta(days=20),
        escalated_at=NOW - timedelta(days=19),
        escalated_to=manager,
    )
    html = render(client, manager)
    order = [html.index(f'data-alert="{a.code}"') for a in (escalated, mine, newest_warning)]
    assert order == sorted(order)


def test_risk_officers_find_the_repayment_import_on_the_dashboard(live, client, risk_officer, manager):
    link = f'href="{reverse("risk:repayment_import")}"'
    assert link in render(client, risk_officer)
    assert link not in render(client, manager)  # managers do not book repayments


def test_page_does_not_read_the_facilities(live, client, rm1, manager, risk_officer):
    """Exposure by tier comes from the rollup's snapshot (issue #14): at 500k facilities the
    join of customers and facilities cost 400 ms, so no query of the page may touch them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rollup_rebuild()
    for user in (rm1, manager, risk_officer):
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        touching = [q["sql"] for q in captured.captured_queries if "risk_facility" in q["sql"]]
        assert touching == [], user.username
