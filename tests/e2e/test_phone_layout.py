"""On a phone (390 px) a page never scrolls sideways: wide tables scroll inside their card, and
a board column's totals stay inside the column."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from crm.roles import Role
from tests.factories import (
    PASSWORD,
    CreditReportFactory,
    CustomerFactory,
    DealFactory,
    FinancialStatementFactory,
    TeamFactory,
    make_user,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def rm_on_a_phone(live_server, page: Page):
    rm1 = make_user(Role.RELATIONSHIP_MANAGER, team=TeamFactory(name="East"), username="rm1")
    customer = CustomerFactory(owner=rm1, team=rm1.team, name="舟山海上风电项目有限公司")
    CreditReportFactory(customer=customer, outstanding_debt=Decimal("242807345.38"))
    FinancialStatementFactory(customer=customer, revenue=Decimal("459243310.75"))
    deal = DealFactory(customer=customer, amount=Decimal("4360000000.00"), proposed_limit=Decimal("80000000.00"))
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My alerts")).to_be_visible()
    return page, customer, deal


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_customer_and_deal_pages_fit_a_phone(rm_on_a_phone, live_server):
    page, customer, deal = rm_on_a_phone
    page.goto(f"{live_server.url}/customers/{customer.code}/")
    expect(page.get_by_role("heading", name="Credit reports")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.goto(f"{live_server.url}/funnel/deals/{deal.code}/")
    expect(page.get_by_role("heading", name="Proposed terms")).to_be_visible()
    assert page_width(page) <= PHONE["width"]


def test_board_totals_stay_inside_their_column(rm_on_a_phone, live_server):
    page, _, _ = rm_on_a_phone
    page.goto(f"{live_server.url}/funnel/board/")
    column = page.locator("section.board-column").first
    expect(column).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    spill = column.evaluate(
        """col => {
            const edge = col.getBoundingClientRect().right;
            return [...col.querySelectorAll('[data-testid=totals] *')]
                .filter(e => e.getBoundingClientRect().right > edge).length;
        }"""
    )
    assert spill == 0


def test_a_list_shows_its_results_on_the_first_screen(rm_on_a_phone, live_server):
    """On a phone the filter bar folds behind a "Filters" button, so the list itself is what
    the first screen shows; the secondary columns step aside and the name is not squeezed."""
    page, customer, _ = rm_on_a_phone
    page.goto(f"{live_server.url}/customers/")
    first = page.get_by_role("link", name=customer.name)
    expect(first).to_be_in_viewport()
    assert page_width(page) <= PHONE["width"]
    expect(page.get_by_label("Industry")).to_be_hidden()
    expect(page.get_by_role("columnheader", name="Credit code")).to_be_hidden()
    # The name's column gets room for more than a few characters a line (with every column
    # shown it had 80 px: four characters). The cell, not the link: a short generated name
    # makes a narrow link in a wide cell.
    assert first.locator("xpath=ancestor::td[1]").bounding_box()["width"] > 120

    page.get_by_role("button", name="Filters").click()
    expect(page.get_by_label("Industry")).to_be_visible()
    page.get_by_label("Tier").select_option(label="Unrated")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"tier=unrated"))
    # A filter in force keeps the bar open and counts on the button.
    page.reload()
    expect(page.get_by_label("Tier")).to_be_visible()
    expect(page.get_by_role("button", name="Filters 1")).to_be_visible()


def test_the_filter_bar_stays_open_on_a_desktop(rm_on_a_phone, live_server):
    page, _, _ = rm_on_a_phone
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/customers/")
    expect(page.get_by_label("Industry")).to_be_visible()
    expect(page.get_by_role("button", name="Filters")).to_be_hidden()
    expect(page.get_by_role("columnheader", name="Credit code")).to_be_visible()


def test_a_default_filter_is_not_counted_as_set(rm_on_a_phone, live_server):
    """The alert list shows unresolved alerts by default: that is not a filter the user set."""
    page, _, _ = rm_on_a_phone
    page.goto(f"{live_server.url}/risk/alerts/")
    expect(page.get_by_role("button", name="Filters", exact=True)).to_be_visible()
    expect(page.get_by_label("Severity")).to_be_hidden()
    page.goto(f"{live_server.url}/risk/alerts/?status=all")
    expect(page.get_by_role("button", name="Filters 1", exact=True)).to_be_visible()
