"""Saving a draft in the admin: always saved, and a warning says what would refuse it at publish."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from customers.models import Criterion
from tests.factories import SIMPLE, save_spec

pytestmark = pytest.mark.django_db


def change_form_data(card, **weights) -> dict:
    """The admin change form as the browser posts it, with some criterion weights replaced."""
    criteria = list(card.criteria.order_by("order", "id"))
    data = {
        "version": card.version,
        "name": card.name,
        "cutoff_aa": card.cutoff_aa,
        "cutoff_a": card.cutoff_a,
        "notes": "",
        "criteria-TOTAL_FORMS": len(criteria),
        "criteria-INITIAL_FORMS": len(criteria),
        "criteria-MIN_NUM_FORMS": 0,
        "criteria-MAX_NUM_FORMS": 1000,
        "_continue": "1",
    }
    for i, c in enumerate(criteria):
        row = {"id": c.pk, "scorecard": card.pk, "order": c.order, "group": c.group, "attribute": c.attribute}
        data |= {f"criteria-{i}-{k}": v for k, v in row.items()}
        data[f"criteria-{i}-weight"] = weights.get(c.attribute, c.weight)
    return data


def save(client, card, **weights):
    url = reverse("admin:customers_scorecard_change", args=[card.pk])
    response = client.post(url, change_form_data(card, **weights))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_it_saves_a_draft_whose_weights_add_up_to_110_and_warns_why_it_cannot_be_published(client, admin_user):
    card = save_spec(SIMPLE, version=9)
    client.force_login(admin_user)

    messages = save(client, card, debt_ratio=50)

    assert Criterion.objects.get(scorecard=card, attribute="debt_ratio").weight == 50
    assert [level for level, _ in messages] == ["success", "warning"]  # saved, then why not publishable
    assert "changed successfully" in messages[0][1]
    assert "cannot be published yet" in messages[1][1]
    assert "add up to 110" in messages[1][1]


def test_it_does_not_warn_about_a_draft_that_can_be_published(client, admin_user):
    card = save_spec(SIMPLE, version=9)
    client.force_login(admin_user)

    messages = save(client, card)

    assert [level for level, _ in messages] == ["success"]


def test_the_warning_is_shown_on_the_page_in_chinese(client, admin_user):
    card = save_spec(SIMPLE, version=9)
    client.force_login(admin_user)
    client.cookies["django_language"] = "zh-hans"
    url = reverse("admin:customers_scorecard_change", args=[card.pk])

    with translation.override("zh-hans"):  # the middleware switches the thread: switch it back after
        page = client.post(url, change_form_data(card, debt_ratio=50), follow=True).content.decode()

    assert "暂不能发布" in page
    assert "110" in page
