"""What the first week's users found on the risk dashboard (issue #13, point 5), each pinned:

- the default baseline had no figures, so two of three cards said "no comparison";
- the monthly table lagged a repayment just recorded (December still "Repaid ¥0");
- the monthly rates swung 0 % → 199 % → 100 % on a smoothed line;
- the page was some 4,100 px tall, its lists long and its weekly table out of keyboard reach.

"Now" is 2026-12-04 12:00 in Shanghai, as on the demo's first week."""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from crm.scope import Scope
from risk.dashboard import risk_report, rollup_rebuild
from risk.models import RiskMonth
from risk.services import repayment_record
from tests.factories import FacilityFactory, add_installments, add_repayments

D = Decimal
NOW = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)
URL = reverse("risk:dashboard")

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def page(client, user, query: str = "") -> str:
    client.force_login(user)
    response = client.get(URL + query)
    assert response.status_code == 200
    return response.content.decode()


def cell(html: str, testid: str) -> str:
    match = re.search(rf'<td class="([^"]*)"[^>]*data-testid="{testid}">([^<]*)<', html)
    assert match, testid
    return match[2]


def classes(html: str, testid: str) -> str:
    return re.search(rf'<td class="([^"]*)"[^>]*data-testid="{testid}">', html)[1]


def chart(html: str) -> dict:
    source = re.search(r'<script id="risk-dashboard-data" type="application/json">(.*?)</script>', html, re.S)[1]
    return json.loads(source)


def rows(month: date, **figures) -> None:
    """The firm-wide row of a month (what the risk officer reads)."""
    RiskMonth.objects.create(month=month, owner_id=None, team_id=None, **figures)


@pytest.fixture
def demo_like(now):
    """As the demo: deals screened since March, installments due since June, and the exposure
    observed only this month (the first rebuild ran this month)."""
    for month in range(3, 12):
        rows(date(2026, month, 1), screened=4, screened_funded=3 if month < 9 else 2)
    for month, due, repaid in ((6, "1000", "950"), (7, "1000", "1000"), (8, "1000", "1000"), (9, "1000", "1000")):
        rows(date(2026, month, 1), due=D(due), repaid=D(repaid))
    for month in (10, 11):
        rows(date(2026, month, 1), due=D("1000"), repaid=D("900"))
    rows(date(2026, 12, 1), exposure=D("10000"), exposure_b=D("1000"), exposure_overdue=D("0"))


# --- Defaults that compare -------------------------------------------------------------------
def test_cards_compare_with_the_last_months_that_have_figures_by_default(demo_like, client, risk_officer):
    html = page(client, risk_officer)
    # Current: October to December; baseline: the last three months with figures before them.
    assert "2026-10 to 2026-12 (this month to date)" in html
    assert "(2026-07 – 2026-09, default)" in html
    assert 'data-testid="kpi-recovery_rate-baseline">100.0%<' in html  # 3,000 ÷ 3,000
    assert 'data-testid="kpi-recovery_rate-difference" data-verdict="worse"' in html  # 1,800 ÷ 2,000 = 90 %
    assert 'data-testid="kpi-screening_efficiency-difference" data-verdict="worse"' in html  # 4/8 against 7/12
    # Exposure was first observed this month: nothing earlier to compare with, and it says so.
    assert 'data-testid="kpi-portfolio_risk-difference" data-verdict=""' in html
    assert html.count("no comparison") == 1


def test_before_this_months_first_figure_the_current_period_is_the_last_with_figures(now, client, risk_officer):
    for month in range(5, 12):
        rows(date(2026, month, 1), due=D("1000"), repaid=D("1000"))
    html = page(client, risk_officer)
    assert "2026-09 to 2026-11 (the latest months with figures)" in html
    assert "(2026-06 – 2026-08, default)" in html
    assert 'data-testid="kpi-recovery_rate">100.0%<' in html


# --- A repayment counts at once ----------------------------------------------------------------
def test_a_repayment_shows_in_its_month_as_soon_as_it_is_recorded(now, client, risk_officer, customer, rm1):
    facility = FacilityFactory(customer=customer)
    add_installments(
        facility, [(date(2026, 11, 30), "40000.00", "2000.00"), (date(2026, 12, 1), "40000.00", "2000.00")]
    )
    rollup_rebuild()  # the beat job ran before the money came in
    assert cell(page(client, risk_officer), "repaid-2026-12") == "¥0"

    repayment_record(facility=facility, received_on=TODAY, amount=D("84000.00"), reference="B-1", by=rm1)
    html = page(client, risk_officer)
    assert cell(html, "repaid-2026-12") == "¥84,000"  # no wait for the next rebuild
    # The RM and the team see it too (their levels got it as well).
    assert cell(page(client, rm1), "repaid-2026-12") == "¥84,000"

    rollup_rebuild()  # the next run folds it in: counted once, not twice
    assert cell(page(client, risk_officer), "repaid-2026-12") == "¥84,000"
    assert cell(page(client, rm1), "repaid-2026-12") == "¥84,000"


# --- Monthly rates: what they mean and what the chart draws -------------------------------------
def test_recovery_rate_passes_100_percent_when_a_late_payment_comes_in(now, customer, rm1):
    """Why a month can show 200 %, and why that is not clamped.

    The method's fund recovery rate is a cash measure: money received in the period ÷ money
    falling due in it. An installment due on 30 June and paid on 1 July leaves June at 0 % and
    puts July at 200 % (its own installment and June's). Nothing is wrong: the money came, a
    day late. Clamping July to 100 % would hide that June's arrears were cleared and leave the
    two months together at 50 %, though everything due was paid. The two months together are
    exactly 100 %, which is why the cards compare three-month periods and the chart leaves out
    the months whose rate rests on too little (the next test)."""
    facility = FacilityFactory(customer=customer)
    add_installments(facility, [(date(2026, 6, 30), "100.00", "0"), (date(2026, 7, 31), "100.00", "0")])
    add_repayments(facility, [(date(2026, 7, 1), "100.00"), (date(2026, 7, 31), "100.00")])
    rollup_rebuild()
    report = risk_report(Scope.of(rm1), today=TODAY, baseline=(date(2026, 6, 1), date(2026, 7, 1)))
    assert report.months[date(2026, 6, 1)].recovery_rate == D("0.0")
    assert report.months[date(2026, 7, 1)].recovery_rate == D("200.0")
    assert report.baseline.figures.recovery_rate == D("100.0")


def test_months_whose_rate_rests_on_too_little_are_gaps_on_the_chart(now, client, risk_officer):
    # June and July: the first small installments of a growing book (as in the demo).
    rows(date(2026, 6, 1), due=D("15.00"), repaid=D("0"))
    rows(date(2026, 7, 1), due=D("15.00"), repaid=D("30.00"))
    for month in (8, 9, 10, 11):
        rows(date(2026, month, 1), due=D("100.00"), repaid=D("95.00"))
    html = page(client, risk_officer)
    recovery = next(s for s in chart(html)["kpis"]["series"] if s["key"] == "recovery_rate")
    labels = chart(html)["kpis"]["labels"]
    by_month = dict(zip(labels, recovery["data"], strict=True))
    assert by_month["2026-06"] is None and by_month["2026-07"] is None  # gaps, not 0 % and 200 %
    assert by_month["2026-08"] == "95.0"
    assert by_month["2026-05"] is None  # nothing due: a gap as before
    # The table keeps the figures, greyed, saying why they are not charted.
    assert cell(html, "recovery-2026-06") == "0.0%"
    assert cell(html, "recovery-2026-07") == "200.0%"
    assert "text-body-tertiary" in classes(html, "recovery-2026-07")
    assert "text-body-tertiary" not in classes(html, "recovery-2026-08")


# --- A compact page ----------------------------------------------------------------------------
def test_the_weekly_table_that_scrolls_sideways_can_be_reached_by_keyboard(now, client, risk_officer):
    html = page(client, risk_officer)
    region = re.search(r'<div class="table-responsive"([^>]*)data-testid="weeks-region">', html)[1]
    assert 'tabindex="0"' in region
    assert 'role="region"' in region
    assert 'aria-label="Alerts opened per week by severity, table; scrolls sideways"' in region


def test_the_long_tables_are_folded_away_until_asked_for(demo_like, client, risk_officer):
    html = page(client, risk_officer)
    trend = html[html.index('data-testid="trend-details"') - 40 :]
    assert trend.startswith('<details class="border-top"') or "<details" in trend[:60]
    assert "Show the figures month by month" in html
    assert '<details class="card-footer small text-body-secondary" data-testid="definitions">' in html
