from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Customer, Grade, GradeReason, Scorecard, ScorecardStatus
from customers.regrade import active_scorecard, regrade
from customers.services import scorecard_copy, scorecard_impact
from tests.factories import SIMPLE, CustomerFactory, numeric, save_spec

pytestmark = pytest.mark.django_db


def make_customers(owner, n, **inputs):
    base = {
        "registered_capital": Decimal("500000000"),
        "industry_position": "leader",
        "bureau_rating": "AA",
        "has_litigation": False,
        "overdue_count": 0,
        "debt_ratio": Decimal("0.45"),
        "current_ratio": Decimal("1.8"),
        "project_amount": Decimal("300000000"),
        "cooperation_since": "2018-01-01",
    }
    return [CustomerFactory(owner=owner, team=owner.team, **{**base, **inputs}) for _ in range(n)]


def test_migration_matrix_counts_moves_and_exposure_without_writing(rm1):
    make_customers(rm1, 3)  # AA under v1
    make_customers(rm1, 2, debt_ratio=Decimal("0.7"), industry_position="average")  # lower score
    regrade(reason=GradeReason.SCHEDULED)
    before = {c.pk: (c.tier, c.score, c.credit_limit) for c in Customer.objects.all()}
    tiers_now = sorted(t for t, _, _ in before.values())
    grades_before = Grade.objects.count()

    strict = scorecard_copy(scorecard=active_scorecard(), by=rm1)
    Scorecard.objects.filter(pk=strict.pk).update(cutoff_aa=Decimal("99.5"), cutoff_a=Decimal("60"))
    strict.refresh_from_db()
    impact = scorecard_impact(scorecard=strict)

    assert impact.total == 5
    aa_now = tiers_now.count("AA")
    assert impact.cell("AA", "A")[0] == aa_now  # nobody keeps AA at 99.5
    exposure = sum(limit for tier, _, limit in before.values() if tier == "AA")
    assert impact.cell("AA", "A")[1] == exposure
    assert impact.moved == aa_now
    # Nothing was written.
    assert {c.pk: (c.tier, c.score, c.credit_limit) for c in Customer.objects.all()} == before
    assert Grade.objects.count() == grades_before
    assert Scorecard.objects.get(pk=strict.pk).status == ScorecardStatus.DRAFT


def test_admin_previews_then_publishes(client, admin_user, rm1, django_capture_on_commit_callbacks):
    make_customers(rm1, 2)
    old = active_scorecard()
    draft = scorecard_copy(scorecard=old, by=admin_user)
    client.force_login(admin_user)
    url = reverse("admin:customers_scorecard_publish", args=[draft.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="migration-matrix"' in page.content.decode()
    assert Scorecard.objects.get(pk=draft.pk).status == "draft"

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url)
    assert response.status_code == 302
    draft.refresh_from_db()
    old.refresh_from_db()
    assert (draft.status, old.status, draft.published_by) == ("active", "retired", admin_user)
    assert draft.published_at is not None
    assert len(callbacks) == 1  # the background re-grade, queued after commit


def test_invalid_draft_shows_why_and_cannot_be_published(client, admin_user):
    bad = save_spec(type(SIMPLE)((numeric("debt_ratio", 100, 100, "0.5", 0),), Decimal("80"), Decimal("60")), version=7)
    client.force_login(admin_user)
    url = reverse("admin:customers_scorecard_publish", args=[bad.pk])
    page = client.get(url).content.decode()
    assert "No customer could ever be graded A." in page
    client.post(url)
    assert Scorecard.objects.get(pk=bad.pk).status == "draft"
    assert active_scorecard().version == 1


def test_active_scorecard_cannot_be_republished_or_edited(client, admin_user):
    card = active_scorecard()
    client.force_login(admin_user)
    response = client.post(reverse("admin:customers_scorecard_publish", args=[card.pk]))
    assert response.status_code == 302
    change = client.post(
        reverse("admin:customers_scorecard_change", args=[card.pk]),
        {"version": 1, "name": "Hacked", "cutoff_aa": "1", "cutoff_a": "0.5"},
    )
    assert change.status_code == 403
    card.refresh_from_db()
    assert card.name != "Hacked"


def test_relationship_manager_cannot_reach_the_publish_page(client, rm1):
    draft = scorecard_copy(scorecard=active_scorecard(), by=rm1)
    client.force_login(rm1)
    response = client.get(reverse("admin:customers_scorecard_publish", args=[draft.pk]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_copy_keeps_criteria_and_bands(admin_user):
    card = active_scorecard()
    draft = scorecard_copy(scorecard=card, by=admin_user)
    assert draft.version == card.version + 1
    assert draft.spec().criteria == card.spec().criteria


def test_admin_customer_form_cannot_set_grades(client, admin_user, customer):
    client.force_login(admin_user)
    page = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()
    assert 'name="tier"' not in page
    assert 'name="computed_tier"' not in page
    assert 'name="credit_limit"' not in page
    assert 'name="bureau_rating"' not in page
