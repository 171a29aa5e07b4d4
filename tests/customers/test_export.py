import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[dict]:
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel needs the BOM to show Chinese correctly
    return list(csv.DictReader(io.StringIO(text[1:])))


def xlsx_rows(response) -> list[dict]:
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def portfolio(rm1, customer, other_customer):
    """rm1: two energy customers and one water; rm2 (rm1's teammate): other_customer."""
    CustomerFactory(owner=rm1, team=rm1.team, name="甲能源有限公司", registered_capital=Decimal("12345678.91"))
    CustomerFactory(owner=rm1, team=rm1.team, name="乙水务有限公司", industry="water")
    return customer


def test_csv_export_has_exactly_the_rms_own_customers(client, rm1, portfolio, other_customer):
    client.force_login(rm1)
    response = client.get(reverse("customers:export_csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert sorted(r["Company name"] for r in rows) == sorted(
        ["华东光伏电站项目有限公司", "甲能源有限公司", "乙水务有限公司"]
    )
    assert other_customer.credit_code not in body(client.get(reverse("customers:export_csv"))).decode()


def test_export_applies_the_list_filters_and_sort(client, rm1, portfolio):
    client.force_login(rm1)
    response = client.get(reverse("customers:export_csv"), {"industry": "energy", "sort": "-capital", "page": "2"})
    rows = csv_rows(response)
    assert [r["Company name"] for r in rows] == ["华东光伏电站项目有限公司", "甲能源有限公司"]
    assert rows[0]["Industry"] == "Energy and power"
    assert rows[1]["Registered capital (CNY)"] == "12345678.91"
    assert rows[1]["Relationship manager"] == "rm1"


def test_team_manager_exports_the_whole_team(client, manager, portfolio, other_customer, west_customer):
    client.force_login(manager)
    names = {r["Company name"] for r in csv_rows(client.get(reverse("customers:export_csv")))}
    assert other_customer.name in names
    assert west_customer.name not in names
    assert len(names) == 4


def test_xlsx_export_has_the_filtered_customers_with_exact_amounts(client, rm1, portfolio, other_customer):
    client.force_login(rm1)
    response = client.get(reverse("customers:export_xlsx"), {"q": "甲能源"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    [row] = xlsx_rows(response)
    assert row["Company name"] == "甲能源有限公司"
    assert Decimal(str(row["Registered capital (CNY)"])) == Decimal("12345678.91")
    assert row["Tier"] == "Unrated"

    everything = xlsx_rows(client.get(reverse("customers:export_xlsx")))
    assert len(everything) == 3
    assert other_customer.name not in {r["Company name"] for r in everything}


def test_names_that_look_like_formulas_stay_text(client, rm1):
    CustomerFactory(owner=rm1, team=rm1.team, name='=HYPERLINK("http://evil","x")')
    client.force_login(rm1)
    [row] = csv_rows(client.get(reverse("customers:export_csv")))
    assert row["Company name"].startswith("'=")
    sheet = openpyxl.load_workbook(io.BytesIO(body(client.get(reverse("customers:export_xlsx"))))).active
    assert sheet["A2"].data_type == "s"
    assert sheet["A2"].value == '=HYPERLINK("http://evil","x")'


def test_an_export_can_be_edited_and_imported_again(client, rm1, portfolio, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client.force_login(rm1)
    exported = body(client.get(reverse("customers:export_csv")))
    response = client.post(
        reverse("customers:import"), {"kind": "customers", "file": SimpleUploadedFile("export.csv", exported)}
    )
    # Every column is understood; every row is refused only because the company is registered.
    assert {e.message for e in response.context["errors"]} == {
        "A customer with this credit code is already registered."
    }
    assert len(response.context["errors"]) == 3


def test_export_of_many_customers_runs_in_a_fixed_number_of_queries(client, rm1, django_assert_max_num_queries):
    CustomerFactory.create_batch(250, owner=rm1, team=rm1.team)
    client.force_login(rm1)
    # Session, user, role, the session's renewal (3: savepoint, update, release), the customers.
    with django_assert_max_num_queries(7):
        rows = csv_rows(client.get(reverse("customers:export_csv"), {"industry": "energy"}))
    assert len(rows) == Customer.objects.count() == 250
    with django_assert_max_num_queries(7):
        assert len(xlsx_rows(client.get(reverse("customers:export_xlsx"), {"industry": "energy"}))) == 250


def test_export_requires_login(client):
    for name in ("customers:export_csv", "customers:export_xlsx"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert reverse("login") in response["Location"]


def test_export_rejects_post(client, rm1):
    client.force_login(rm1)
    assert client.post(reverse("customers:export_csv")).status_code == 405
