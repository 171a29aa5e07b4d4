"""A customer's grade falls from AA; the hourly job raises a critical alert; the team manager
finds it on the risk dashboard, acknowledges it there and resolves it with a note."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from crm.models import Job
from crm.roles import Role
from customers.choices import Tier
from customers.models import Customer, GradeReason
from customers.regrade import regrade
from risk.models import Alert, AlertEventKind, AlertRule, AlertStatus
from risk.tasks import alerts_evaluate
from tests.factories import PASSWORD, CustomerFactory, TeamFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME = "华东光伏电站项目有限公司"


def hourly_run_raises() -> int:
    """Run the hourly evaluation; the alerts its batch jobs raised."""
    alerts_evaluate()
    run = Job.objects.filter(task="risk.tasks.alerts_evaluate").first()  # the newest
    return sum(batch.result["raised"] for batch in run.batches.all())


@pytest.fixture
def downgraded(live_server):
    team = TeamFactory(name="East")
    rm1 = make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm1")
    make_user(Role.TEAM_MANAGER, team=team, username="manager")
    today = timezone.localdate()
    customer = CustomerFactory(
        owner=rm1,
        team=team,
        name=NAME,
        registered_capital=Decimal("500000000"),
        industry_position="leader",
        bureau_rating="AA",
        has_litigation=False,
        overdue_count=0,
        debt_ratio=Decimal("0.45"),
        current_ratio=Decimal("1.8"),
        project_amount=Decimal("300000000"),
        cooperation_since=datetime.date(2018, 1, 1),
        credit_report_date=today - datetime.timedelta(days=30),
        statement_date=today - datetime.timedelta(days=90),
    )
    regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
    customer.refresh_from_db()
    assert customer.tier == Tier.AA
    # Only the shipped downgrade rule, so the dashboard shows the alert this test is about.
    AlertRule.objects.exclude(kind="tier_downgrade").update(enabled=False)
    assert hourly_run_raises() == 0

    # New figures: litigation, overdue payments, a poor bureau rating, heavy leverage.
    Customer.objects.filter(pk=customer.pk).update(
        bureau_rating="CCC", has_litigation=True, overdue_count=6, debt_ratio=Decimal("0.92")
    )
    regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
    customer.refresh_from_db()
    assert customer.previous_tier == Tier.AA and customer.tier in (Tier.A, Tier.B)
    assert hourly_run_raises() == 1
    return customer


def test_manager_acknowledges_and_resolves_a_downgrade_alert_from_the_dashboard(downgraded, live_server, page: Page):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Risk dashboard").click()
    expect(page.get_by_role("heading", name="Risk dashboard", level=1)).to_be_visible()

    alert = Alert.objects.get(customer=downgraded)
    row = page.locator(f'[data-alert="{alert.code}"]')
    expect(row).to_contain_text(NAME)
    expect(row).to_contain_text("Downgrade from AA or A")

    row.get_by_text("Acknowledge or resolve").click()
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("heading", name="Risk dashboard", level=1)).to_be_visible()
    row = page.locator(f'[data-alert="{alert.code}"]')
    expect(row).to_contain_text("Acknowledged")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED

    row.get_by_text("Acknowledge or resolve").click()
    row.get_by_label("How was it resolved?").fill("Called the CFO: litigation settled, new report ordered.")
    row.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("heading", name="Risk dashboard", level=1)).to_be_visible()
    expect(page.locator(f'[data-alert="{alert.code}"]')).to_have_count(0)

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_note.startswith("Called the CFO")
    kinds = list(alert.events.values_list("kind", "by__username"))
    assert kinds == [
        (AlertEventKind.OPENED, None),
        (AlertEventKind.ACKNOWLEDGED, "manager"),
        (AlertEventKind.RESOLVED, "manager"),
    ]
    # The alert's page tells the story: the grade change and who resolved it.
    page.goto(f"{live_server.url}/risk/alerts/{alert.code}/")
    expect(page.get_by_text("Called the CFO: litigation settled, new report ordered.").first).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors
