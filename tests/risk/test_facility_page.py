"""One facility's page: who may open it, and what it shows — position, schedule states,
repayments, alerts, links and the code the repayment import asks for."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from risk.models import AlertKind, AlertStatus
from tests.factories import (
    SCHEDULE,
    AlertFactory,
    AlertRuleFactory,
    FacilityFactory,
    RepaymentFactory,
    add_installments,
)

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2025, 5, 15)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2025, 5, 15, 10, tzinfo=SHANGHAI), tick=False):
        yield


def url(facility) -> str:
    return reverse("risk:facility", args=[facility.code])


@pytest.fixture
def late(scheduled):
    """rm1's facility: 105,000 + 104,500 due by today (03-31, 04-30); 110,000 repaid on 04-10
    covers the first installment and 5,000 of the second (interest 4,500, principal 500)."""
    RepaymentFactory(facility=scheduled, received_on=datetime.date(2025, 4, 10), amount="110000.00", reference="BK-1")
    return scheduled


def test_login_required(client, facility):
    response = client.get(url(facility))
    assert response.status_code == 302


@pytest.mark.parametrize("who", ["rm1", "manager", "risk_officer", "admin_user"])
def test_those_who_see_the_customer_open_the_page(client, request, who, facility):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url(facility))
    assert response.status_code == 200
    assert str(facility.code) in response.content.decode()


@pytest.mark.parametrize("who", ["rm2", "rm_west"])
def test_rm_cannot_open_another_rms_facility(client, request, who, facility):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url(facility)).status_code == 404


def test_outside_the_team_a_manager_gets_404(client, manager, west_customer):
    client.force_login(manager)
    assert client.get(url(FacilityFactory(customer=west_customer))).status_code == 404


def test_an_unknown_code_is_the_same_404(client, rm1):
    client.force_login(rm1)
    assert client.get(reverse("risk:facility", args=["00000000-0000-4000-8000-000000000000"])).status_code == 404


def test_shows_overdue_amount_days_and_position(client, rm1, late):
    client.force_login(rm1)
    response = client.get(url(late))
    page = response.content.decode()
    position = response.context["position"]
    # 209,500 due − 110,000 repaid; the oldest uncovered installment is 04-30: 15 days.
    assert position.amount_overdue == 99500
    assert position.days_overdue == 15
    assert "99,500.00" in page
    assert "15 days" in page and "since 2025-04-30" in page
    assert "1,200,000.00" in page  # limit
    assert "2027-12-31" in page  # maturity
    # Outstanding as stored: the factory wrote the facility directly, not through the service.
    assert "1,000,000.00" in page


def test_schedule_lines_show_paid_overdue_and_due(client, rm1, late):
    client.force_login(rm1)
    response = client.get(url(late))
    states = [(line.installment.due_date.isoformat(), line.state) for line in response.context["schedule"]]
    assert states == [
        ("2025-03-31", "paid"),
        ("2025-04-30", "overdue"),
        ("2025-05-31", "due"),
        ("2025-06-30", "due"),
    ]
    page = response.content.decode()
    assert page.count('data-state="paid"') == 2  # the row and its badge
    assert page.count('data-state="overdue"') == 2
    assert "5,000.00" in page  # paid on the second installment
    assert "99,500.00" in page  # its remainder


def test_an_installment_due_today_is_due_not_overdue(client, rm1, facility):
    add_installments(facility, [(TODAY, "1000.00", "0.00")])
    client.force_login(rm1)
    response = client.get(url(facility))
    assert [line.state for line in response.context["schedule"]] == ["due"]
    assert response.context["position"].days_overdue == 0


def test_lists_repayments_with_reference_and_who_entered_them(client, rm1, late):
    client.force_login(rm1)
    page = client.get(url(late)).content.decode()
    assert "2025-04-10" in page and "110,000.00" in page and "BK-1" in page
    assert str(late.created_by) in page


def test_links_to_the_deal_and_the_customer(client, rm1, facility):
    client.force_login(rm1)
    page = client.get(url(facility)).content.decode()
    assert f'href="{reverse("funnel:detail", args=[facility.deal.code])}"' in page
    assert f'href="{reverse("customers:detail", args=[facility.customer.code])}"' in page


def test_code_has_a_copy_button_and_its_script(client, rm1, facility):
    client.force_login(rm1)
    page = client.get(url(facility)).content.decode()
    assert f'data-testid="facility-code">{facility.code}</code>' in page
    assert 'data-copy="#facility-code"' in page
    assert "js/copy_code.js" in page


def test_shows_the_facilitys_alerts_not_other_facilities_or_kinds(client, rm1, customer, facility):
    overdue = AlertRuleFactory(name="Payment overdue 30", kind=AlertKind.PAYMENT_OVERDUE, params={"days": 30})
    other = FacilityFactory(customer=customer)
    AlertFactory(customer=customer, rule=overdue, observed={"facilities": [str(facility.code)], "days_overdue": 40})
    AlertFactory(
        customer=customer,
        rule=AlertRuleFactory(name="Other facility overdue", kind=AlertKind.PAYMENT_OVERDUE, params={"days": 30}),
        observed={"facilities": [str(other.code)]},
    )
    AlertFactory(customer=customer, rule=AlertRuleFactory(name="Downgrade"), status=AlertStatus.OPEN)
    client.force_login(rm1)
    response = client.get(url(facility))
    assert [a.rule.name for a in response.context["alerts"]] == ["Payment overdue 30"]
    assert "Payment overdue 30" in response.content.decode()
    assert "Other facility overdue" not in response.content.decode()


def test_without_permission_no_repayment_form(client, rm1, manager, risk_officer, facility):
    for user, shown in ((rm1, False), (manager, False), (risk_officer, True)):
        client.force_login(user)
        page = client.get(url(facility)).content.decode()
        assert ('data-testid="repayment-form"' in page) is shown


def test_page_renders_in_chinese(client, rm1, late):
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    client.force_login(rm1)
    page = client.get(url(late)).content.decode()
    assert "还款计划" in page and "逾期" in page and "已还清" in page


def test_the_date_field_holds_today_in_iso_in_chinese_too(client, risk_officer, facility):
    risk_officer.language = "zh-hans"
    risk_officer.save(update_fields=["language"])
    client.force_login(risk_officer)
    page = client.get(url(facility)).content.decode()
    assert 'type="date" name="received_on" value="2025-05-15"' in page


def test_query_count_does_not_grow_with_installments_and_repayments(
    client, rm1, facility, django_assert_max_num_queries
):
    add_installments(facility, SCHEDULE)
    client.force_login(rm1)
    with django_assert_max_num_queries(14) as few:
        client.get(url(facility))
    for n in range(10):
        RepaymentFactory(facility=facility, received_on=datetime.date(2025, 2, 1 + n), amount="100.00")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url(facility))
