"""rm1 signs in, is told about a wrong credit code, creates the customer and finds it."""

import re

import pytest
from playwright.sync_api import Page, expect

from crm.roles import Role
from tests.factories import PASSWORD, CustomerFactory, TeamFactory, credit_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def rm1_in_browser(live_server, page: Page):
    rm1 = make_user(Role.RELATIONSHIP_MANAGER, team=TeamFactory(name="East"), username="rm1")
    CustomerFactory(owner=rm1, team=rm1.team, name="苏州水务环保有限公司")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My alerts")).to_be_visible()  # the home page
    page.get_by_role("link", name="Customers", exact=True).first.click()
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    return page


def test_rm_creates_customer_after_fixing_the_credit_code(rm1_in_browser: Page, live_server):
    page = rm1_in_browser
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.get_by_role("link", name="New customer").click()
    page.get_by_label("Company name").fill("舟山海上风电项目有限公司")
    good = credit_code(77)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    page.get_by_label("Unified social credit code").fill(wrong)
    page.locator("select[name=industry]").select_option("renewables")
    page.get_by_label("Registered capital (CNY)").fill("300000000")
    page.get_by_label("Industry position").select_option("major")
    page.get_by_role("button", name="Create customer").click()

    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.get_by_text(f"for this code it must be {good[-1]}")).to_be_visible()
    # What the user typed is still there to correct.
    expect(page.get_by_label("Company name")).to_have_value("舟山海上风电项目有限公司")

    page.get_by_label("Unified social credit code").fill(good.lower())
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_test_id("customer-name")).to_have_text("舟山海上风电项目有限公司")
    expect(page.get_by_text(good)).to_be_visible()

    page.get_by_role("link", name="Customers", exact=True).first.click()
    results = page.get_by_test_id("customer-results")
    expect(results).to_contain_text("2 customers")
    page.get_by_role("searchbox").fill("海上风电")
    expect(results).to_contain_text("1 customer")
    expect(results.get_by_role("link", name="舟山海上风电项目有限公司")).to_be_visible()
    expect(results).not_to_contain_text("苏州水务环保有限公司")
    expect(page).to_have_url(re.compile(r"q="))  # htmx put the search in the address bar
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_language_switch_shows_chinese(rm1_in_browser: Page):
    page = rm1_in_browser
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="客户")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="客户")).to_be_visible()
