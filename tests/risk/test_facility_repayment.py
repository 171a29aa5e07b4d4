"""Recording one repayment from the facility page: held to the repayment import's rules,
booked the way an imported row is, all or nothing, POST-redirect-GET."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from risk import imports
from risk.exceptions import RepaymentRefused
from risk.models import Facility, Repayment
from risk.services import repayment_enter
from tests.factories import RepaymentFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2025, 5, 15)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2025, 5, 15, 10, tzinfo=SHANGHAI), tick=False):
        yield


def url(facility) -> str:
    return reverse("risk:facility_repayment", args=[facility.code])


def post(client, facility, **fields):
    data = {"received_on": "2025-05-10", "amount": "209500.00", "reference": "BK-0510", **fields}
    return client.post(url(facility), data)


# --- The view --------------------------------------------------------------------------------------
def test_rejects_get(client, risk_officer, scheduled):
    client.force_login(risk_officer)
    assert client.get(url(scheduled)).status_code == 405


def test_login_required(client, scheduled):
    response = post(client, scheduled)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Repayment.objects.exists()


def test_rm_of_the_customer_may_not_record(client, rm1, scheduled):
    client.force_login(rm1)
    assert post(client, scheduled).status_code == 403
    assert not Repayment.objects.exists()


def test_outsider_gets_404_even_without_permission_to_record(client, rm2, scheduled):
    client.force_login(rm2)
    assert post(client, scheduled).status_code == 404
    assert not Repayment.objects.exists()


def test_risk_officer_records_and_the_installments_are_paid(client, risk_officer, scheduled):
    client.force_login(risk_officer)
    response = post(client, scheduled)
    assert response.status_code == 302
    assert response["Location"] == reverse("risk:facility", args=[scheduled.code]) + "#repayments"
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "Recorded a repayment of 209,500.00 CNY received on 2025-05-10." in text
    assert "BK-0510" in text
    assert [line.state for line in page.context["schedule"]] == ["paid", "paid", "due", "due"]
    assert page.context["position"].days_overdue == 0
    # Outstanding falls by the principal covered: 200,000 of the two installments.
    scheduled.refresh_from_db()
    assert scheduled.outstanding == Decimal("800000.00")
    repayment = Repayment.objects.get()
    assert (repayment.entered_by, repayment.amount) == (risk_officer, Decimal("209500.00"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "0"}, "The amount must be more than zero."),
        ({"amount": "-5.00"}, "The amount must be more than zero."),
        ({"received_on": "2025-05-16"}, "The date received cannot be in the future."),
        ({"received_on": "2024-12-31"}, "The date received is before the facility started on 2025-01-01."),
        ({"amount": "2000000.00"}, "More than the facility still owes: 1,017,000.00 CNY."),
        ({"amount": "12.345"}, "Ensure that there are no more than 2 decimal places."),
        ({"amount": ""}, "Give the amount received."),
        ({"amount": "abc"}, "Enter a number."),
        ({"received_on": ""}, "Give the date the money was received."),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(client, risk_officer, scheduled, fields, message):
    client.force_login(risk_officer)
    response = post(client, scheduled, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Repayment.objects.exists()
    scheduled.refresh_from_db()
    assert scheduled.outstanding == Decimal("1000000.00")


def test_a_repayment_already_recorded_is_refused(client, risk_officer, scheduled):
    RepaymentFactory(facility=scheduled, received_on=datetime.date(2025, 5, 10), amount="1000.00", reference="BK-7")
    client.force_login(risk_officer)
    response = post(client, scheduled, amount="1000.00", reference=" BK-7 ")
    assert "This repayment is already recorded: same facility, date, amount and bank reference." in (
        response.content.decode()
    )
    assert Repayment.objects.count() == 1
    # Another amount under the same reference is another repayment, as in the import.
    assert post(client, scheduled, amount="2000.00", reference="BK-7").status_code == 302
    assert Repayment.objects.count() == 2


def test_errors_show_in_chinese_for_a_chinese_user(client, risk_officer, scheduled):
    risk_officer.language = "zh-hans"
    risk_officer.save(update_fields=["language"])
    client.force_login(risk_officer)
    page = post(client, scheduled, received_on="2025-05-16").content.decode()
    assert "未登记任何记录" in page


# --- The service: the same rules as an imported row ----------------------------------------------
def test_service_and_import_refuse_the_same_rows(scheduled, risk_officer):
    """What the import's check says of a row, repayment_enter says of the same repayment."""
    RepaymentFactory(facility=scheduled, received_on=datetime.date(2025, 5, 1), amount="500.00", reference="DUP")
    cases = [
        (datetime.date(2025, 5, 1), Decimal("500.00"), "DUP"),  # already recorded
        (datetime.date(2025, 5, 20), Decimal("1.00"), ""),  # future
        (datetime.date(2025, 5, 2), Decimal("5000000.00"), ""),  # more than owed
    ]
    for received_on, amount, reference in cases:
        data = (
            "Facility code,Received on,Amount (CNY),Bank reference\n"
            f"{scheduled.code},{received_on.isoformat()},{amount},{reference}\n"
        ).encode()
        checked = imports.check(data, user=risk_officer, today=TODAY)
        from_import = sorted(e.message for row in checked.rows for e in row.errors)
        with pytest.raises(RepaymentRefused) as refused:
            repayment_enter(
                facility=scheduled, received_on=received_on, amount=amount, reference=reference, by=risk_officer
            )
        assert sorted(str(p) for p in refused.value.problems) == from_import
    assert Repayment.objects.count() == 1


def test_service_books_through_repayment_record(scheduled, risk_officer):
    repayment = repayment_enter(
        facility=scheduled, received_on=datetime.date(2025, 4, 1), amount=Decimal("105000.00"), by=risk_officer
    )
    assert repayment.reference == ""
    assert Facility.objects.get(pk=scheduled.pk).outstanding == Decimal("900000.00")
    assert scheduled.outstanding == Decimal("900000.00")
