"""crm.panels: a higher app adds a section to a lower app's page."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from crm import panels


@pytest.fixture
def slot():
    name = "test_page"
    yield name
    panels._providers.pop(name, None)


def test_registered_providers_render_in_order_and_none_shows_nothing(slot, db):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()

    def first(request, obj):
        return panels.Panel("crm/keyset_pager.html", {"page": obj})

    def quiet(request, obj):
        return None

    panels.register(slot, first)
    panels.register(slot, quiet)
    panels.register(slot, first)  # twice (ready() may run again): still once
    page = SimpleNamespace(has_newer=False, has_older=True, oldest=SimpleNamespace(code="c0de"))
    rendered = panels.render_panels(slot, request, page)
    assert len(rendered) == 1
    assert 'rel="next"' in rendered[0] and "after=c0de" in rendered[0]
    panels.unregister(slot, first)
    assert panels.render_panels(slot, request, page) == []


def test_risk_fills_the_customer_and_deal_pages():
    from risk.panels import customer_facilities, deal_facility

    assert customer_facilities in panels._providers[panels.CUSTOMER_PAGE]
    assert deal_facility in panels._providers[panels.DEAL_PAGE]
