"""Every input of the criteria and bands inlines has an accessible name: the row and the field."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation

from tests.factories import SIMPLE, save_spec

pytestmark = pytest.mark.django_db


class Inputs(HTMLParser):
    """The visible inputs, selects and textareas whose name starts with a prefix."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix
        self.found: dict[str, dict] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        visible = tag in ("input", "select", "textarea") and a.get("type") != "hidden"
        if visible and (a.get("name") or "").startswith(self.prefix):
            self.found[a["name"]] = a


def inputs(page: str, prefix: str) -> dict[str, dict]:
    parser = Inputs(prefix)
    parser.feed(page)
    return parser.found


def test_it_names_every_criterion_input_after_its_criterion_and_field(client, admin_user):
    card = save_spec(SIMPLE, version=9)
    client.force_login(admin_user)

    page = client.get(reverse("admin:customers_scorecard_change", args=[card.pk])).content.decode()

    found = inputs(page, "criteria-")
    assert "criteria-0-weight" in found and "criteria-0-DELETE" in found
    assert all(a.get("aria-label") for a in found.values()), [n for n, a in found.items() if not a.get("aria-label")]
    assert found["criteria-0-weight"]["aria-label"] == "Debt ratio: Weight"
    assert found["criteria-1-weight"]["aria-label"] == "Industry position: Weight"
    assert found["criteria-0-DELETE"]["aria-label"] == "Debt ratio: Delete"
    assert found["criteria-__prefix__-weight"]["aria-label"] == "New criterion: Weight"


def test_it_names_every_band_input_after_its_criterion_and_row(client, admin_user):
    card = save_spec(SIMPLE, version=9)
    criterion = card.criteria.get(attribute="debt_ratio")
    client.force_login(admin_user)

    page = client.get(reverse("admin:customers_criterion_change", args=[criterion.pk])).content.decode()

    found = inputs(page, "bands-")
    assert "bands-0-points" in found
    assert all(a.get("aria-label") for a in found.values()), [n for n, a in found.items() if not a.get("aria-label")]
    assert found["bands-0-points"]["aria-label"] == "Debt ratio, band 1: Points"
    assert found["bands-2-lower"]["aria-label"] == "Debt ratio, band 3: From (inclusive)"


def test_the_names_are_translated(client, admin_user):
    card = save_spec(SIMPLE, version=9)
    client.force_login(admin_user)
    client.cookies["django_language"] = "zh-hans"

    with translation.override("zh-hans"):  # the middleware switches the thread: switch it back after
        page = client.get(reverse("admin:customers_scorecard_change", args=[card.pk])).content.decode()

    assert inputs(page, "criteria-")["criteria-0-weight"]["aria-label"] == "资产负债率：权重"
