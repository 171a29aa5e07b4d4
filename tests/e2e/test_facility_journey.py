"""A risk officer finds an overdue facility in the list, copies its code, records the repayment
the bank reported and sees the installments paid — on a desktop and on a phone (390 px), where
the pages never scroll sideways."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from crm.roles import Role
from tests.factories import PASSWORD, CustomerFactory, FacilityFactory, TeamFactory, add_installments, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME = "舟山海上风电项目有限公司"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def overdue_facility(live_server):
    rm1 = make_user(Role.RELATIONSHIP_MANAGER, team=TeamFactory(name="East"), username="rm1")
    make_user(Role.RISK_OFFICER, username="risk")
    today = timezone.localdate()
    customer = CustomerFactory(owner=rm1, team=rm1.team, name=NAME)
    facility = FacilityFactory(
        customer=customer,
        start_date=today - datetime.timedelta(days=120),
        maturity_date=today + datetime.timedelta(days=600),
    )
    add_installments(
        facility,
        [
            (today - datetime.timedelta(days=40), "100000.00", "5000.00"),
            (today + datetime.timedelta(days=20), "100000.00", "4500.00"),
        ],
    )
    return facility


def sign_in(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("risk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My alerts")).to_be_visible()


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def record_from_the_list(page: Page, live_server, facility) -> None:
    page.goto(f"{live_server.url}/risk/facilities/")
    row = page.get_by_test_id("facility-row").filter(has_text=NAME)
    expect(row.get_by_test_id("overdue")).to_have_text("40 days overdue")
    row.get_by_role("link", name=str(facility.code)).click()
    expect(page.get_by_role("heading", name=f"Facility of {NAME}")).to_be_visible()
    expect(page.get_by_test_id("amount-overdue")).to_have_text("105,000.00")

    # The code the import asks for, one click away.
    copy = page.get_by_test_id("copy-code")
    expect(copy).to_be_visible()
    copy.click()
    # Copied to the clipboard, or (no clipboard API) selected for Ctrl+C: either way it says so.
    expect(copy).to_have_text(re.compile("Copied|Selected: press Ctrl"))

    page.get_by_label("Amount (CNY)").fill("105000.00")
    page.get_by_label("Bank reference").fill("ICBC-0001")
    page.get_by_role("button", name="Record repayment").click()
    expect(page.get_by_role("alert").filter(has_text="Recorded a repayment of 105,000.00 CNY")).to_be_visible()
    expect(page.get_by_test_id("repayment").filter(has_text="ICBC-0001")).to_contain_text("105,000.00")
    expect(page.get_by_test_id("installment").first).to_have_attribute("data-state", "paid")
    expect(page.get_by_test_id("days-overdue")).to_have_text("0")


def test_risk_officer_records_a_repayment_from_the_list(overdue_facility, live_server, page: Page):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, live_server)
    record_from_the_list(page, live_server, overdue_facility)
    overdue_facility.refresh_from_db()
    assert overdue_facility.outstanding == Decimal("900000.00")
    assert errors == []


def test_the_facility_pages_fit_a_phone(overdue_facility, live_server, page: Page):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/risk/facilities/")
    expect(page.get_by_test_id("facility-row")).to_have_count(1)
    assert page_width(page) <= PHONE["width"]
    record_from_the_list(page, live_server, overdue_facility)
    assert page_width(page) <= PHONE["width"]
    for path in (f"/customers/{overdue_facility.customer.code}/", f"/funnel/deals/{overdue_facility.deal.code}/"):
        page.goto(live_server.url + path)
        expect(page.get_by_test_id("facilities-panel")).to_be_visible()
        assert page_width(page) <= PHONE["width"]
