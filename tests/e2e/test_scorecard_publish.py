"""An admin previews a new scorecard version, publishes it, and a customer's tier changes on its
page once the real Celery worker has re-graded the portfolio."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from crm.roles import Role
from customers.models import GradeReason, Scorecard
from customers.regrade import active_scorecard, regrade
from customers.services import scorecard_copy
from tests.factories import PASSWORD, CustomerFactory, TeamFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def setup(db):
    admin = make_user(Role.ADMIN, username="admin", is_superuser=True)
    rm = make_user(Role.RELATIONSHIP_MANAGER, team=TeamFactory(name="East"), username="rm1")
    customer = CustomerFactory(
        owner=rm,
        team=rm.team,
        name="嘉兴新能源项目有限公司",
        registered_capital=Decimal("500000000"),
        industry_position="leader",
        bureau_rating="AA",
        has_litigation=False,
        overdue_count=0,
        debt_ratio=Decimal("0.45"),
        current_ratio=Decimal("1.8"),
        project_amount=Decimal("300000000"),
        cooperation_since="2018-01-01",
    )
    regrade(reason=GradeReason.SCHEDULED)
    draft = scorecard_copy(scorecard=active_scorecard(), by=admin)
    Scorecard.objects.filter(pk=draft.pk).update(name="Stricter AA", cutoff_aa=Decimal("99"))
    customer.refresh_from_db()
    assert customer.tier == "AA"
    return {"customer": customer, "draft": draft}


def test_admin_publishes_after_preview_and_the_tier_changes(setup, celery_worker, live_server, page: Page):
    customer, draft = setup["customer"], setup["draft"]
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/admin/customers/scorecard/{draft.pk}/change/")
    page.get_by_role("link", name="Preview and publish…").click()
    matrix = page.get_by_test_id("migration-matrix")
    expect(matrix).to_be_visible()
    expect(matrix.locator('td[data-from="AA"][data-to="A"] .count')).to_have_text("1")
    expect(page.get_by_text("1 of them would change tier", exact=False)).to_be_visible()

    page.get_by_role("button", name="Publish and re-grade the portfolio").click()
    expect(page.get_by_text("is now active")).to_be_visible()

    page.goto(f"{live_server.url}/customers/{customer.code}/")
    tier = page.get_by_test_id("tier")
    for _ in range(40):  # the worker re-grades in the background
        if tier.inner_text().strip() == "Tier A":
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(tier).to_have_text(re.compile(r"^\s*Tier A\s*$"))
    expect(page.get_by_test_id("grade-history")).to_contain_text("Scorecard published")
