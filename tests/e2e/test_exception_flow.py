"""An exception from request to decision, in the browser, with a real Celery worker: rm1 asks
for one on the deal's page; the worker mails the deciders; the manager finds it in the top bar,
on the home page and in the queue, approves it, and the queue is empty again."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from crm.roles import Role
from funnel import services
from tests.conftest import wait_until
from tests.factories import (
    PASSWORD,
    TeamFactory,
    make_graded_customer,
    make_user,
    set_terms,
    tick_all,
    to_due_diligence,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My alerts")).to_be_visible()


@pytest.fixture
def underpriced_deal(live_server, settings):
    """rm1's deal in due diligence, every item ticked, priced under the AA policy (60 bp)."""
    settings.SITE_URL = live_server.url
    east = TeamFactory(name="East")
    rm1 = make_user(Role.RELATIONSHIP_MANAGER, team=east, username="rm1", email="rm1@example.com")
    manager = make_user(Role.TEAM_MANAGER, team=east, username="manager", email="manager@example.com")
    customer = make_graded_customer(owner=rm1, team=rm1.team, name="华东光伏电站项目有限公司")
    deal = services.deal_create(
        by=rm1, customer=customer, title="光伏电站二期融资", project_type="renewable", amount=80_000_000
    )
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    set_terms(deal, spread_bps=60)
    return deal, manager


def test_an_exception_reaches_the_manager_and_is_decided(underpriced_deal, celery_worker, page: Page, live_server):
    deal, manager = underpriced_deal
    sign_in(page, live_server, "rm1")
    page.goto(f"{live_server.url}/funnel/deals/{deal.code}/")
    page.get_by_label("Why are these terms justified?").fill("Strategic customer; the competitor offers 60 bp")
    page.get_by_role("button", name="Ask for an exception").click()
    expect(page.get_by_test_id("deciders")).to_contain_text(f"Who may decide it: {manager}")

    # The worker, not the request, sends the mail: to the manager, with a link to the terms.
    wait_until(lambda: len(mail.outbox) >= 1, seconds=30, what="the decider's e-mail")
    [message] = mail.outbox
    assert message.to == ["manager@example.com"] and deal.title in message.subject
    assert f"{live_server.url}/funnel/deals/{deal.code}/#terms" in message.body

    page.context.clear_cookies()
    sign_in(page, live_server, "manager")
    expect(page.get_by_test_id("exceptions-badge")).to_contain_text("1")
    home_card = page.get_by_test_id("home-exception")
    expect(home_card).to_contain_text(deal.title)
    page.get_by_test_id("exceptions-badge").click()
    expect(page).to_have_url(f"{live_server.url}/funnel/exceptions/")
    page.get_by_role("link", name=deal.title).first.click()
    expect(page).to_have_url(re.compile(rf"/funnel/deals/{deal.code}/#terms$"))
    page.get_by_role("button", name="Approve exception").click()
    expect(page.get_by_test_id("exception").first).to_contain_text("Approved")
    expect(page.get_by_test_id("exceptions-badge")).to_have_count(0)
    page.goto(f"{live_server.url}/funnel/exceptions/")
    expect(page.get_by_role("link", name=deal.title)).to_have_count(0)
