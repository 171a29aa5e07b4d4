from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import CreditReport, Customer, FinancialStatement, Grade, TierOverride
from customers.regrade import regrade

pytestmark = pytest.mark.django_db


def report_form(**overrides):
    data = {
        "as_of": "2026-03-01",
        "source": "bureau",
        "bureau": "PBOC Credit Reference Center",
        "rating": "AA",
        "overdue_count": "0",
        "overdue_amount": "0",
        "outstanding_debt": "900000000",
        "litigation": "",
    }
    return {**data, **overrides}


def test_rm_adds_a_credit_report_and_sees_the_new_inputs(client, rm1, customer):
    client.force_login(rm1)
    url = reverse("customers:credit_report_create", args=[customer.code])
    assert client.get(url).status_code == 200
    response = client.post(url, report_form(), follow=True)
    assert response.status_code == 200
    report = CreditReport.objects.get()
    assert (report.entered_by, report.source, report.rating) == (rm1, "bureau", "AA")
    customer.refresh_from_db()
    assert customer.bureau_rating == "AA"
    assert "Credit report saved." in response.content.decode()


def test_bad_statement_shows_errors_and_saves_nothing(client, rm1, customer):
    client.force_login(rm1)
    url = reverse("customers:financial_statement_create", args=[customer.code])
    response = client.post(
        url,
        {
            "as_of": "31/12/2025",
            "source": "manual",
            "period": "annual",
            "revenue": "-1",
            "net_profit": "10",
            "total_assets": "100",
            "total_liabilities": "50",
            "current_assets": "10",
            "current_liabilities": "5",
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"as_of", "revenue"}
    assert not FinancialStatement.objects.exists()


def test_the_import_source_cannot_be_picked_by_hand(client, rm1, customer):
    client.force_login(rm1)
    client.post(reverse("customers:credit_report_create", args=[customer.code]), report_form(source="import"))
    assert not CreditReport.objects.exists()


def test_source_form_for_another_rms_customer_is_404(client, rm1, other_customer):
    client.force_login(rm1)
    url = reverse("customers:credit_report_create", args=[other_customer.code])
    assert client.get(url).status_code == 404
    assert client.post(url, report_form()).status_code == 404
    assert not CreditReport.objects.exists()


def test_risk_officer_overrides_and_the_computed_grade_stays_visible(client, risk_officer, graded_customer):
    regrade(reason="scheduled")
    client.force_login(risk_officer)
    until = timezone.localdate() + timedelta(days=30)
    response = client.post(
        reverse("customers:override", args=[graded_customer.code]),
        {"tier": "B", "reason": "Pending restructuring of the parent group.", "expires_on": until.isoformat()},
        follow=True,
    )
    graded_customer.refresh_from_db()
    assert (graded_customer.tier, graded_customer.computed_tier) == ("B", "AA")
    page = response.content.decode()
    assert 'data-testid="override"' in page
    assert "Pending restructuring of the parent group." in page
    assert Grade.objects.first().reason == "override"
    override = TierOverride.objects.get()
    assert override.created_by == risk_officer
    assert timezone.localtime(override.expires_at).date() == until + timedelta(days=1)


def test_override_needs_a_reason_and_a_future_date(client, risk_officer, graded_customer):
    client.force_login(risk_officer)
    url = reverse("customers:override", args=[graded_customer.code])
    response = client.post(url, {"tier": "B", "reason": "", "expires_on": "2020-01-01"})
    assert set(response.context["form"].errors) == {"reason", "expires_on"}
    far = (timezone.localdate() + timedelta(days=400)).isoformat()
    response = client.post(url, {"tier": "B", "reason": "x", "expires_on": far})
    assert "at most one year" in " ".join(response.context["form"].errors["expires_on"])
    assert not TierOverride.objects.exists()


def test_relationship_manager_cannot_override(client, rm1, customer):
    client.force_login(rm1)
    url = reverse("customers:override", args=[customer.code])
    assert client.get(url).status_code == 403
    until = (timezone.localdate() + timedelta(days=5)).isoformat()
    assert client.post(url, {"tier": "AA", "reason": "x", "expires_on": until}).status_code == 403
    assert not TierOverride.objects.exists()


def test_recording_a_review_moves_the_next_review_date(client, rm1, graded_customer):
    Customer.objects.filter(pk=graded_customer.pk).update(last_review_date=date(2025, 1, 1))
    regrade(reason="scheduled")
    client.force_login(rm1)
    url = reverse("customers:review", args=[graded_customer.code])
    assert client.get(url).status_code == 405
    client.post(url)
    graded_customer.refresh_from_db()
    assert graded_customer.last_review_date == timezone.localdate()
    assert graded_customer.next_review_date > timezone.localdate()


def test_detail_shows_grade_contributions_terms_and_levers(client, rm1, graded_customer):
    Customer.objects.filter(pk=graded_customer.pk).update(debt_ratio=Decimal("0.7"), industry_position="average")
    regrade(reason="scheduled")
    graded_customer.refresh_from_db()
    client.force_login(rm1)
    page = client.get(reverse("customers:detail", args=[graded_customer.code])).content.decode()
    assert 'data-testid="contributions"' in page
    assert str(graded_customer.score) in page
    assert "Credit limit (CNY)" in page
    if graded_customer.tier != "AA":
        assert 'data-testid="levers"' in page
    assert 'id="grade-chart-data"' in page


def test_detail_of_an_unrated_customer_names_the_missing_inputs(client, rm1, customer):
    regrade(reason="scheduled")
    client.force_login(rm1)
    page = client.get(reverse("customers:detail", args=[customer.code])).content.decode()
    assert 'data-testid="missing-inputs"' in page
    assert "Credit bureau rating" in page


def test_detail_queries_do_not_grow_with_history(client, rm1, graded_customer, django_assert_max_num_queries):
    client.force_login(rm1)
    regrade(reason="scheduled")
    url = reverse("customers:detail", args=[graded_customer.code])
    with django_assert_max_num_queries(40) as first:
        client.get(url)
    for i in range(15):
        Customer.objects.filter(pk=graded_customer.pk).update(overdue_count=i % 4)
        regrade(reason="data_changed", ids=[graded_customer.pk])
        CreditReport.objects.create(
            customer=graded_customer,
            entered_by=rm1,
            as_of=date(2025, 1, 1) + timedelta(days=i),
            rating="A",
            outstanding_debt=1,
        )
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get(url)
