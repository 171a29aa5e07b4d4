"""An RM uploads a small customer file, confirms it, and watches the result page reach "done"
by itself (htmx polls it) while a real Celery worker writes the import in the background."""

import pytest
from playwright.sync_api import Page, expect

from crm.roles import Role
from customers.models import Customer
from tests.conftest import celery_worker_running
from tests.factories import PASSWORD, TeamFactory, credit_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_confirmed_import_finishes_on_its_result_page_without_a_reload(live_server, page: Page, tmp_path):
    make_user(Role.RELATIONSHIP_MANAGER, team=TeamFactory(name="East"), username="rm1")
    rows = ["Company name,Credit code,Industry,Registered capital (CNY),Industry position"]
    rows += [f"Company {i},{credit_code(i)},renewables,1000000,leader" for i in (1, 2)]
    file = tmp_path / "two-customers.csv"
    file.write_text("\n".join(rows) + "\n", encoding="utf-8")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/customers/import/")
    page.get_by_label("Customers").check()
    page.locator("#id_file").set_input_files(str(file))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name="Confirm import").click()

    expect(page.get_by_role("heading", name="Import of two-customers.csv")).to_be_visible()
    url = page.url
    status = page.get_by_test_id("import-status")
    # No worker yet: the import waits in the broker, and the page says so.
    expect(status).to_have_attribute("data-state", "waiting")
    assert not Customer.objects.exists()
    # A worker comes (keeping the message the confirm sent): the page's poll picks up its progress.
    with celery_worker_running(purge=False):
        expect(status).to_have_attribute("data-state", "done", timeout=20_000)
    assert page.url == url  # no reload, no redirect
    expect(page.get_by_test_id("import-created")).to_have_text("2")
    expect(page.get_by_test_id("import-outcome")).to_contain_text("Every row was imported.")
    assert Customer.objects.count() == 2

    page.get_by_role("link", name="Your imports").last.click()
    expect(page.get_by_test_id("import-list")).to_contain_text("two-customers.csv")
