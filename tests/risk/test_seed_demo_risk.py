"""The risk demo data (``manage.py seed_demo_risk``, run by ``make run`` after the customer and
deal demo data): facilities with schedules and repayments, worsened customers, the alerts the
shipped rules raise on them, the watch list and the dashboard figures — and nothing new on a
second run."""

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from crm.models import User
from customers.models import CreditReport, Customer, Tier
from funnel.models import Deal, Stage
from risk.models import (
    UNRESOLVED,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertRule,
    AlertSeverity,
    AlertStatus,
    Facility,
    Repayment,
    RepaymentInstallment,
    RiskMonth,
)
from risk.selectors import facilities_overdue_more_than

pytestmark = pytest.mark.django_db


def seed_risk() -> str:
    out = StringIO()
    call_command("seed_demo_risk", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded():
    # tests/risk/conftest.py switches the shipped rules off; the demo is made by them.
    AlertRule.objects.update(enabled=True)
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo_deals", stdout=StringIO())
    return seed_risk()


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Facility, RepaymentInstallment, Repayment, Alert, AlertEvent, CreditReport, RiskMonth)
    }


def test_every_funded_demo_deal_has_a_facility_with_a_schedule_and_repayments(seeded):
    funded = Deal.objects.filter(stage=Stage.FUNDED)
    assert funded.count() >= 12
    assert Facility.objects.filter(deal__in=funded).count() == funded.count()
    today = timezone.localdate()
    for facility in Facility.objects.all():
        installments = facility.installments.all()
        # 12 or 24 monthly installments whose principal repays what was drawn.
        assert installments.count() in (12, 24)
        assert installments.aggregate(total=Sum("principal"))["total"] == facility.drawn
        assert installments.first().due_date > facility.start_date
        assert installments.last().due_date == facility.maturity_date
        assert facility.outstanding <= facility.drawn
    paying = Facility.objects.filter(repayments__isnull=False).distinct()
    assert paying.count() >= 8
    assert not Repayment.objects.filter(received_on__gt=today).exists()
    # One or two customers stopped paying 40 to 90 days ago.
    stopped = facilities_overdue_more_than(30, today=today)
    assert 1 <= stopped.count() <= 2
    assert all(40 <= f.days_overdue <= 90 for f in stopped)
    assert f"Demo risk data ready: {funded.count()} facilities ({funded.count()} new)" in seeded


def test_worsened_customers_raise_alerts_of_each_kind_and_go_on_the_watch_list(seeded):
    manager = User.objects.get(username="manager")
    kinds = set(Alert.objects.values_list("rule__kind", flat=True))
    assert {
        AlertKind.TIER_DOWNGRADE,
        AlertKind.SCORE_DROP,
        AlertKind.BUREAU_DOWNGRADE,
        AlertKind.LIMIT_BREACH,
        AlertKind.PAYMENT_OVERDUE,
        AlertKind.DEBT_RATIO_HIGH,
    } <= kinds
    fallen = Alert.objects.get(rule__kind=AlertKind.TIER_DOWNGRADE).customer
    assert fallen.tier == Tier.B and fallen.previous_tier in (Tier.AA, Tier.A)
    # Its facility's limit followed the lowered credit limit, below what it has drawn.
    assert Alert.objects.filter(rule__kind=AlertKind.LIMIT_BREACH, customer=fallen).exists()
    facility = fallen.facilities.get()
    assert facility.limit == fallen.credit_limit < facility.drawn

    # The escalation job escalated one critical alert to the team manager, who acknowledged,
    # resolved and assigned one each.
    escalated = Alert.objects.get(escalated_at__isnull=False)
    assert escalated.severity == AlertSeverity.CRITICAL and escalated.escalated_to == manager
    assert Alert.objects.get(status=AlertStatus.ACKNOWLEDGED).events.filter(by=manager).exists()
    resolved = Alert.objects.get(status=AlertStatus.RESOLVED)
    assert resolved.resolved_note and resolved.events.filter(kind=AlertEventKind.RESOLVED, by=manager).exists()
    assigned = Alert.objects.get(assignee__isnull=False)
    assert assigned.assignee == assigned.customer.owner

    watched = Customer.objects.filter(watch_review_by__isnull=False)
    assert fallen in watched and resolved.customer not in watched
    assert RiskMonth.objects.filter(owner_id__isnull=True, team_id__isnull=True, exposure__gt=0).exists()


def test_team_manager_finds_the_demo_alerts_on_the_dashboard_and_home_page(seeded, client):
    manager = User.objects.get(username="manager")
    client.force_login(manager)
    response = client.get(reverse("risk:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    newest = Alert.objects.filter(
        customer__team=manager.team, status__in=UNRESOLVED, rule__kind=AlertKind.TIER_DOWNGRADE
    ).get()
    assert str(newest.code) in page and newest.customer.name in page

    client.force_login(newest.customer.owner)
    response = client.get("/")
    assert response.status_code == 200
    assert str(newest.code) in response.content.decode()


def test_running_it_again_adds_nothing(seeded):
    before = counts()
    again = seed_risk()
    assert counts() == before
    assert f"{before['Facility']} facilities (0 new)" in again and "(0 new), 0 alerts raised" in again


def test_a_later_run_books_repayments_fallen_due_and_the_stopped_stay_stopped(seeded):
    today = timezone.localdate()
    stopped = set(facilities_overdue_more_than(30, today=today).values_list("pk", flat=True))
    repayments = Repayment.objects.count()
    later = timezone.now() + datetime.timedelta(days=35)
    with time_machine.travel(later, tick=False):
        seed_risk()
        # Each facility that was paying paid what fell due since (those paying late may be a
        # few weeks behind); the stopped ones are further behind and nobody else is.
        assert Repayment.objects.count() > repayments
        behind = set(facilities_overdue_more_than(30, today=timezone.localdate()).values_list("pk", flat=True))
    assert behind == stopped
