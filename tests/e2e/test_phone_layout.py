"""On a phone (390 px) a page never scrolls sideways: wide tables scroll inside their card, and
a board column's totals stay inside the column."""

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
