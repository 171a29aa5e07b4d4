"""Walks every URL pattern of the project, so a new view cannot slip past the access rules.

For each pattern the test fills its URL parameters with objects that belong to rm2 and asks as
rm1 (rm2's teammate, an RM too): every page about such an object must be a 404 - also for POST,
for the method the view serves (the other method gets 405 before any lookup). A pattern with a
parameter the test does not know fails the test: teach OBJECTS about the new object type.
A second walk as the owner checks that no GET changes anything in the database."""

import io
import re
import zipfile

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from crm.models import Job
from tests.factories import (
    ActivityFactory,
    AlertFactory,
    AlertRuleFactory,
    ContactFactory,
    CustomerFactory,
    DealFactory,
    FacilityFactory,
    TermsExceptionFactory,
)

pytestmark = pytest.mark.django_db

SKIPPED_PREFIXES = ("admin/",)  # Django admin: staff only, has its own permission system
# Rows that legitimately change on every request and carry no business data.
VOLATILE_TABLES = {"django_session", "axes_accesslog", "axes_accessattempt", "axes_accessfailurelog"}


def walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def project_routes():
    return sorted(
        (route, pattern)
        for route, pattern in walk(get_resolver().url_patterns)
        if not route.startswith(SKIPPED_PREFIXES)
    )


@pytest.fixture
def rm2_objects(rm2):
    customer = CustomerFactory(owner=rm2, team=rm2.team, name="机密客户有限公司")
    deal = DealFactory(customer=customer, title="机密融资项目")
    exception = TermsExceptionFactory(deal=deal, reason="机密理由", requested_by=rm2)
    rule = AlertRuleFactory(name="Test downgrade", kind="tier_downgrade", severity="critical")
    alert = AlertFactory(customer=customer, rule=rule, observed={"old_tier": "AA"})
    return {
        "customer_code": customer.code,
        "contact_code": ContactFactory(customer=customer, name="机密联系人").code,
        "deal_code": deal.code,
        "exception_code": exception.code,
        "alert_code": alert.code,
        "facility_code": FacilityFactory(customer=customer).code,
        # rm2's import: its result page is rm2's (and admins') alone.
        "import_code": Job.objects.create(
            task="customers.tasks.customer_import_run",
            kwargs={"upload": "0" * 32, "name": "机密.csv"},
            requested_by=rm2,
        ).code,
        "_names": [customer.name, "机密联系人", deal.title],
        "_activity": ActivityFactory(customer=customer),
    }


def fill(route: str, objects: dict) -> str:
    def value(match):
        name = match.group(2)
        if name not in objects:
            pytest.fail(f"{route}: no test object for URL parameter <{name}>; add it to rm2_objects")
        return str(objects[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def snapshot() -> dict:
    state = {}
    for model in apps.get_models():
        if model._meta.db_table in VOLATILE_TABLES:
            continue
        state[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return state


def test_routes_are_found():
    routes = [route for route, _ in project_routes()]
    assert "customers/<uuid:customer_code>/" in routes
    assert len(routes) >= 10


def test_rm_gets_404_for_every_page_about_another_rms_objects(client, rm1, rm2_objects):
    client.force_login(rm1)
    checked = 0
    for route, _ in project_routes():
        if "<" not in route:
            continue
        url = fill(route, rm2_objects)
        # 405 (wrong method) is answered before any lookup, so it reveals nothing; every URL
        # must give 404 for the method it serves, and nothing else for either method.
        codes = {client.get(url).status_code, client.post(url, {}).status_code}
        assert codes <= {404, 405} and 404 in codes, f"{url} answered {codes}"
        checked += 1
    assert checked >= 6


def test_pages_without_parameters_never_show_another_rms_objects(client, rm1, rm2_objects):
    client.force_login(rm1)
    for route, _ in project_routes():
        if "<" in route:
            continue
        response = client.get("/" + route, follow=True)
        raw = b"".join(response.streaming_content if response.streaming else [response.content])
        if raw.startswith(b"PK\x03\x04"):  # an XLSX export: read the XML inside the zip
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                raw = b"".join(archive.read(name) for name in archive.namelist())
        body = raw.decode("utf-8", errors="replace")
        for name in rm2_objects["_names"]:
            assert name not in body, f"/{route} shows {name}"


def test_no_get_changes_data(client, rm2, rm2_objects):
    client.force_login(rm2)
    before = snapshot()
    for route, _ in project_routes():
        url = fill(route, rm2_objects)
        client.get(url)
        client.get(url, headers={"HX-Request": "true"})
    assert snapshot() == before


def test_rm_cannot_enter_django_admin(client, rm1):
    client.force_login(rm1)
    response = client.get("/admin/customers/customer/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
