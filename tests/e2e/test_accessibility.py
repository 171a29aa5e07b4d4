"""Every main page passes axe-core's WCAG 2.1 A/AA checks with no critical or serious violation,
for each role (each sees other panels and buttons on the same page), in Chinese (longer and
shorter labels, another font) and on a phone (390 px).

axe-core is vendored for the tests only (tests/e2e/vendor/axe-core, `make vendor`). The data is
built once for the module — the demo seed (customers with grades, deals in every stage, alerts,
facilities and repayments) — and each role signs in once; the tests only read. Adding a page is
one line in PAGES."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from playwright.sync_api import Browser, BrowserContext, Page

from customers.models import Customer
from funnel.models import Deal
from risk.models import Alert, Facility

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("critical", "serious")
DEMO_PASSWORD = "crm-demo-2026"  # seed_demo's
ROLES = ["rm1", "manager", "risk", "admin"]  # relationship manager, team manager, risk officer, admin
PHONE = {"width": 390, "height": 844}

# name -> path; {customer}, {deal} and {alert} are the codes of rm1's records (every role sees them).
PAGES = {
    "home": "/",
    "customer list": "/customers/",
    "customer": "/customers/{customer}/",
    "board": "/funnel/board/",
    "deal list": "/funnel/deals/",
    "deal": "/funnel/deals/{deal}/",
    "analytics": "/funnel/analytics/",
    "alert list": "/risk/alerts/",
    "alert": "/risk/alerts/{alert}/",
    "dashboard": "/risk/dashboard/",
    "customer import": "/customers/import/",
    "customer import preview": "/customers/import/#preview",  # the upload, then its preview
    "repayment import": "/risk/repayments/import/",
    "data quality": "/customers/data-quality/",
    "tier overview": "/customers/tiers/",
    "exception queue": "/funnel/exceptions/",
    "facility list": "/risk/facilities/",
    "facility": "/risk/facilities/{facility}/",
    "your imports": "/customers/imports/",
}


@pytest.fixture(scope="module")
def _live_server_helper():
    """pytest-django flushes the database after every test that uses the live server; these
    tests only read, so the module builds its data once (demo_data) and flushes it at the end."""
    yield


def migrated_state(snapshot: str) -> None:
    """Back to what the migrations ship (roles, scorecard, stages, alert rules…), nothing else."""
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True, reset_sequences=False)
    connections["default"].creation.deserialize_db_from_string(snapshot)


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker, live_server):
    with django_db_blocker.unblock():
        default = connections["default"]
        # Django's snapshot of the migrated database, made when some test asks for a serialized
        # rollback (tests/conftest.py); run alone, this module finds the database as migrated.
        snapshot = getattr(default, "_test_serialized_contents", None) or default.creation.serialize_db_to_string()
        migrated_state(snapshot)
        # The hasher the tests sign in with (tests/conftest.py, _fast_passwords).
        fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
        fast.enable()
        call_command("seed_demo", verbosity=0)
        call_command("seed_demo_deals", verbosity=0)
        call_command("seed_demo_risk", verbosity=0)
        # The same people in Chinese: their saved language is what the pages follow.
        from crm.models import User

        for username in ("manager", "rm1"):
            user = User.objects.get(username=username)
            twin = User.objects.create_user(
                f"{username}_zh", password=DEMO_PASSWORD, team=user.team, language="zh-hans", is_staff=user.is_staff
            )
            twin.groups.set(user.groups.all())
        alert = Alert.objects.filter(customer__owner__username="rm1").select_related("customer").first()
        customer = alert.customer if alert else Customer.objects.filter(owner__username="rm1").first()
        deal = Deal.objects.filter(customer=customer).first() or Deal.objects.filter(owner__username="rm1").first()
        facility = Facility.objects.filter(customer__owner__username="rm1").first()
        assert alert and customer and deal and facility, (
            "the demo seed no longer gives rm1 an alert, a customer, a deal and a facility"
        )
        fast.disable()
        codes = {"customer": customer.code, "deal": deal.code, "alert": alert.code, "facility": facility.code}
        live_server._live_server_modified_settings.enable()
        try:
            yield codes
        finally:
            live_server._live_server_modified_settings.disable()
            # Leave the database as a serialized-rollback test leaves it: flushed, sequences
            # kept (as TransactionTestCase flushes), for the next such test restores the snapshot
            # itself. Resetting PostgreSQL's sequences here made later inserts reuse the
            # restored rows' ids.
            call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True, reset_sequences=False)


class Session:
    """One signed-in browser context for a user, reused by every page test."""

    def __init__(self, browser: Browser, base: str, username: str, viewport: dict | None = None):
        self.base = base
        self.context: BrowserContext = browser.new_context(viewport=viewport or {"width": 1400, "height": 900})
        self.context.set_default_timeout(10_000)
        self.page: Page = self.context.new_page()
        self.page.goto(f"{base}/accounts/login/")
        self.page.locator("input[name=username]").fill(username)
        self.page.locator("input[name=password]").fill(DEMO_PASSWORD)
        self.page.locator("form:has(input[name=password]) button[type=submit]").click()
        self.page.wait_for_url(f"{base}/")


@pytest.fixture(scope="module")
def sessions(browser: Browser, live_server, demo_data):
    opened: dict[tuple, Session] = {}

    def session(username: str, viewport: dict | None = None) -> Session:
        key = (username, tuple(sorted((viewport or {}).items())))
        if key not in opened:
            opened[key] = Session(browser, live_server.url, username, viewport)
        return opened[key]

    yield session
    for s in opened.values():
        s.context.close()


def open_page(session: Session, name: str, codes: dict) -> None:
    page = session.page
    path = PAGES[name].format(**codes)
    if name == "customer import preview":
        # Export the customers this user sees and upload the file again: a preview with rows.
        csv = page.request.get(f"{session.base}/customers/export.csv").body()
        page.goto(f"{session.base}/customers/import/")
        page.locator("input[type=file]").set_input_files(
            {"name": "customers.csv", "mimeType": "text/csv", "buffer": csv}
        )
        page.locator("[data-testid=import-form] button[type=submit]").click()
        page.wait_for_load_state()
        return
    response = page.goto(session.base + path)
    assert response is not None and response.status < 500, f"{path}: HTTP {response and response.status}"


def axe_violations(page: Page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)  # evaluated over DevTools: the page's Content-Security-Policy allows no inline script
    violations = page.evaluate("options => axe.run(document, options).then(r => r.violations)", AXE_OPTIONS)
    return [v for v in violations if v["impact"] in BLOCKING]


def report(violations: list[dict], where: str) -> str:
    lines = [f"{len(violations)} critical/serious accessibility violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} — {v['helpUrl']}")
        for node in v["nodes"][:8]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary[:240]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_accessible(session: Session, name: str, codes: dict, who: str) -> None:
    open_page(session, name, codes)
    violations = axe_violations(session.page)
    assert not violations, report(violations, f"{name} ({session.page.url}) as {who}")


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("username", ROLES)
def test_page_has_no_serious_violations(sessions, demo_data, username, name):
    assert_accessible(sessions(username), name, demo_data, username)


@pytest.mark.parametrize("name", PAGES)
def test_page_in_chinese_has_no_serious_violations(sessions, demo_data, name):
    assert_accessible(sessions("manager_zh"), name, demo_data, "manager (Chinese)")


@pytest.mark.parametrize("name", PAGES)
def test_page_on_a_phone_has_no_serious_violations(sessions, demo_data, name):
    assert_accessible(sessions("rm1", PHONE), name, demo_data, "rm1 (390 px)")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_login_page_has_no_serious_violations(browser: Browser, live_server, demo_data, language):
    context = browser.new_context(locale="zh-CN" if language == "zh-hans" else "en-US")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        violations = axe_violations(page)
        assert not violations, report(violations, f"the sign-in page ({language})")
    finally:
        context.close()
