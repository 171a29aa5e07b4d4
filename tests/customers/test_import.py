import csv
import io
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.exchange import cells
from customers.models import (
    CreditReport,
    Customer,
    DataSource,
    FinancialStatement,
    PendingUpload,
)
from tests.conftest import run_jobs
from tests.factories import credit_code, make_user

pytestmark = pytest.mark.django_db

REPORT_HEADER = ["Credit code", "Report date", "Bureau rating", "Outstanding debt (CNY)", "Overdue payments"]
STATEMENT_HEADER = [
    "统一社会信用代码",
    "报告期末",
    "营业收入",
    "净利润",
    "资产总计",
    "负债合计",
    "流动资产合计",
    "流动负债合计",
]
CUSTOMER_HEADER = ["Company name", "Credit code", "Industry", "Registered capital (CNY)", "Industry position"]


@pytest.fixture(autouse=True)
def _nothing_on_local_disk(settings, tmp_path):
    """Each web host has its own disk: an upload kept there is lost to a confirm another host serves."""
    settings.VAR_DIR = tmp_path
    yield
    assert list(tmp_path.iterdir()) == []


def csv_upload(rows, *, encoding="utf-8-sig", name="data.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


def xlsx_upload(rows, *, name="data.xlsx") -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def upload(client, kind: str, file):
    return client.post(reverse("customers:import"), {"kind": kind, "file": file})


def confirm(client, preview):
    """Confirm, and let a worker run the import it asked for (if it asked for one)."""
    response = client.post(reverse("customers:import_confirm"), {"token": preview.context["token"]})
    run_jobs()
    return response


def is_result_page(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("customers:imports"))


def errors_of(response) -> set[tuple[int, str]]:
    return {(e.row, e.column) for e in response.context["errors"]}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if "messages" in response.context else []


# --- happy paths ---------------------------------------------------------------------------------
def test_rm_imports_credit_reports_from_csv_and_the_customers_are_regraded(client, rm1, customer):
    client.force_login(rm1)
    preview = upload(
        client,
        "credit_reports",
        csv_upload([REPORT_HEADER, [customer.credit_code, "2026-03-01", "BBB", "1,234,567.89", "2"]]),
    )
    assert preview.status_code == 200
    assert 'data-testid="import-valid"' in preview.content.decode()
    assert not CreditReport.objects.exists()  # the preview saves nothing

    response = confirm(client, preview)
    assert response.status_code == 302
    assert is_result_page(response)
    report = CreditReport.objects.get()
    assert (report.customer, report.as_of, report.rating, report.overdue_count) == (
        customer,
        date(2026, 3, 1),
        "BBB",
        2,
    )
    assert report.outstanding_debt == Decimal("1234567.89")
    assert (report.source, report.entered_by) == (DataSource.IMPORT, rm1)
    customer.refresh_from_db()
    assert customer.bureau_rating == "BBB"
    assert customer.credit_report_date == date(2026, 3, 1)
    # Re-graded: the report now scores. Other inputs are missing, so the customer stays Unrated and
    # the grade history (which records changes of tier or score) gets no row.
    assert customer.breakdown["bureau_rating"] is not None
    page = client.get(response["Location"]).content.decode()
    assert "Every row was imported." in page


def test_rm_imports_financial_statements_from_xlsx_with_chinese_headers(client, rm1, customer):
    client.force_login(rm1)
    row = [customer.credit_code, datetime(2025, 12, 31), 800000000, -1250000.5, "2,000,000,000.00", 1.1e9, 6e8, 4e8]
    preview = upload(client, "financial_statements", xlsx_upload([STATEMENT_HEADER, row]))
    assert preview.context["error_count"] == 0
    confirm(client, preview)

    statement = FinancialStatement.objects.get()
    assert statement.as_of == date(2025, 12, 31)
    assert statement.period == "annual"
    assert statement.revenue == Decimal("800000000.00")
    assert statement.net_profit == Decimal("-1250000.50")  # a loss is not an error
    assert statement.total_assets == Decimal("2000000000.00")
    assert statement.total_liabilities == Decimal("1100000000.00")
    customer.refresh_from_db()
    assert customer.debt_ratio == Decimal("0.5500")


def test_rm_imports_new_customers_from_a_gb18030_csv_and_owns_them(client, rm1):
    client.force_login(rm1)
    rows = [
        ["公司名称", "统一社会信用代码", "行业", "注册资本", "行业地位", "信用评级"],
        ["浙江海上风电有限公司", credit_code(1), "renewables", "120,000,000.00", "leader", "AA"],
        ["江苏水务集团有限公司", credit_code(2).lower(), "Water and environment", "80000000", "Major player", ""],
    ]
    preview = upload(client, "customers", csv_upload(rows, encoding="gb18030"))
    assert preview.context["error_count"] == 0
    confirm(client, preview)

    created = {c.credit_code: c for c in Customer.objects.all()}
    assert set(created) == {credit_code(1), credit_code(2)}
    water = created[credit_code(2)]
    assert (water.name, water.industry, water.industry_position, water.credit_rating) == (
        "江苏水务集团有限公司",
        "water",
        "major",
        "",
    )
    assert water.registered_capital == Decimal("80000000.00")
    assert (water.owner, water.team, water.status) == (rm1, rm1.team, "prospect")
    assert water.history.get().history_user == rm1
    # Graded at once: Unrated with its breakdown, policy terms and review date set.
    assert water.tier == "unrated"
    assert water.breakdown["registered_capital"] is not None
    assert water.next_review_date is not None


def test_manager_imports_customers_for_team_rms_by_user_name(client, manager, rm2, rm_west):
    client.force_login(manager)
    rows = [
        [*CUSTOMER_HEADER, "Relationship manager"],
        ["甲公司", credit_code(1), "energy", "1000", "average", "rm2"],
        ["乙公司", credit_code(2), "energy", "1000", "average", "rm_west"],
        ["丙公司", credit_code(3), "energy", "1000", "average", ""],
    ]
    preview = upload(client, "customers", csv_upload(rows))
    assert errors_of(preview) == {(3, "Relationship manager"), (4, "Relationship manager")}
    assert "rm_west" in preview.content.decode()

    del rows[2:]
    preview = upload(client, "customers", csv_upload(rows))
    confirm(client, preview)
    assert Customer.objects.get().owner == rm2


# --- bad files import nothing --------------------------------------------------------------------
def test_a_file_with_bad_rows_imports_nothing_and_shows_every_error_with_its_row(client, rm1, customer):
    client.force_login(rm1)
    good = [customer.credit_code, "2026-03-01", "AA", "100.00", "0"]
    bad_check_digit = customer.credit_code[:17] + ("0" if customer.credit_code[17] != "0" else "1")
    rows = [
        REPORT_HEADER,
        good,
        [bad_check_digit, "2026-02-01", "AA", "100.00", "0"],  # row 3
        [customer.credit_code, "2026-01-01", "AA", "-5.00", "0"],  # row 4
        [customer.credit_code, "31.12.2025", "AA", "100.00", "0"],  # row 5
        [credit_code(999), "2025-11-01", "AA", "100.00", "0"],  # row 6: nobody's customer
        [customer.credit_code, "2025-10-01", "AAAA", "lots", "-1"],  # row 7
        [customer.credit_code, "2026-03-01", "AA", "100.00", "0"],  # row 8: repeats row 2
        [customer.credit_code, "", "AA", "100.00", "0"],  # row 9
    ]
    response = upload(client, "credit_reports", csv_upload(rows))

    assert response.status_code == 200
    assert errors_of(response) == {
        (3, "Credit code"),
        (4, "Outstanding debt (CNY)"),
        (5, "Report date"),
        (6, "Credit code"),
        (7, "Bureau rating"),
        (7, "Outstanding debt (CNY)"),
        (7, "Overdue payments"),
        (8, "Credit code"),
        (9, "Report date"),
    }
    messages = {(e.row, e.column): e.message for e in response.context["errors"]}
    assert "check digit" in messages[3, "Credit code"]
    assert "cannot be negative" in messages[4, "Outstanding debt (CNY)"]
    assert "is not a date" in messages[5, "Report date"]
    assert "Unknown customer" in messages[6, "Credit code"]
    assert "not a valid choice" in messages[7, "Bureau rating"]
    assert "Row 2" in messages[8, "Credit code"]
    assert "required" in messages[9, "Report date"]
    page = response.content.decode()
    assert "Nothing will be imported" in page
    assert 'data-testid="import-confirm"' not in page
    assert response.context["token"] is None
    assert not CreditReport.objects.exists()


def test_rm_importing_a_report_for_another_rms_customer_gets_unknown_customer(client, rm1, other_customer):
    client.force_login(rm1)
    response = upload(
        client,
        "credit_reports",
        csv_upload([REPORT_HEADER, [other_customer.credit_code, "2026-03-01", "AA", "100", "0"]]),
    )
    [error] = response.context["errors"]
    assert error.message == "Unknown customer: none of the customers you can see has this credit code."
    assert other_customer.name not in response.content.decode()
    assert not CreditReport.objects.exists()


def test_team_manager_imports_reports_for_any_team_customer(client, manager, other_customer):
    client.force_login(manager)
    preview = upload(
        client,
        "credit_reports",
        csv_upload([REPORT_HEADER, [other_customer.credit_code, "2026/03/01", "A", "100", ""]]),
    )
    confirm(client, preview)
    assert CreditReport.objects.get().customer == other_customer


def test_registered_and_repeated_credit_codes_are_refused_in_a_customer_import(client, rm1, other_customer):
    client.force_login(rm1)
    rows = [
        CUSTOMER_HEADER,
        ["新公司", credit_code(1), "energy", "1000", "average"],
        ["同一家公司", credit_code(1), "energy", "1000", "average"],
        ["别人的公司", other_customer.credit_code, "energy", "1000", "average"],
    ]
    response = upload(client, "customers", csv_upload(rows))
    messages = {(e.row, e.column): e.message for e in response.context["errors"]}
    assert messages == {
        (3, "Credit code"): "Row 2 has the same credit code.",
        (4, "Credit code"): "A customer with this credit code is already registered.",
    }
    assert other_customer.name not in response.content.decode()
    assert Customer.objects.count() == 1


def test_the_same_report_cannot_be_imported_twice(client, rm1, customer):
    client.force_login(rm1)
    rows = [REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "100", "0"]]
    confirm(client, upload(client, "credit_reports", csv_upload(rows)))
    again = upload(client, "credit_reports", csv_upload(rows))
    assert errors_of(again) == {(2, "Report date")}
    assert CreditReport.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"Credit code,Bureau rating\n91310000MA1FL5LX3K,AA\n", "“Report date”, “Outstanding debt (CNY)”"),
        (b"Credit code,Credit code\nx,y\n", "appears twice"),
        (b"Credit code,Report date,Bureau rating,Outstanding debt (CNY)\n", "no rows"),
        (b"\xd0\xcf\x11\xe0old excel", ".xls"),
        (b"PK\x03\x04broken", "could not be opened"),
    ],
)
def test_unusable_files_are_refused_with_a_clear_message(client, rm1, content, message):
    client.force_login(rm1)
    response = upload(client, "credit_reports", SimpleUploadedFile("f.csv", content))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])


def test_upload_form_states_the_limits_the_check_applies(client, rm1, customer, monkeypatch):
    client.force_login(rm1)
    assert "at most 5 MB and 20,000 rows" in client.get(reverse("customers:import")).content.decode()

    monkeypatch.setattr(cells, "MAX_ROWS", 2)
    assert "at most 5 MB and 2 rows" in client.get(reverse("customers:import")).content.decode()
    rows = [REPORT_HEADER] + [[customer.credit_code, f"2026-03-0{day}", "AA", "1", "0"] for day in (1, 2, 3)]
    response = upload(client, "credit_reports", csv_upload(rows))
    assert "more than 2 rows" in " ".join(response.context["form"].errors["file"])


def test_files_over_5_mb_or_20000_rows_are_refused(client, rm1, customer):
    client.force_login(rm1)
    big = SimpleUploadedFile("big.csv", b"x" * (5 * 1024 * 1024 + 1))
    response = upload(client, "credit_reports", big)
    assert "larger than 5 MB" in " ".join(response.context["form"].errors["file"])

    rows = [REPORT_HEADER] + [[customer.credit_code, "2026-03-01", "AA", "1", "0"]] * 20_001
    response = upload(client, "credit_reports", csv_upload(rows))
    assert "more than 20,000 rows" in " ".join(response.context["form"].errors["file"])
    assert not CreditReport.objects.exists()


# --- the confirm step trusts nothing but its token -----------------------------------------------
def test_confirm_revalidates_and_imports_nothing_when_the_data_changed(client, rm1, rm2, customer):
    client.force_login(rm1)
    preview = upload(
        client, "credit_reports", csv_upload([REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "1", "0"]])
    )
    Customer.objects.filter(pk=customer.pk).update(owner=rm2)  # reassigned in the meantime

    response = confirm(client, preview)
    assert is_result_page(response)
    page = client.get(response["Location"])
    assert "Unknown customer" in page.context["run"].errors[0]["message"]
    assert "Nothing was imported" in page.content.decode()
    assert not CreditReport.objects.exists()


def test_forged_or_reused_tokens_import_nothing(client, rm1, customer):
    client.force_login(rm1)
    rows = [REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "1", "0"]]
    preview = upload(client, "credit_reports", csv_upload(rows))
    token = preview.context["token"]

    for forged in ("", "../../crm.sqlite3", "0" * 32, token.upper() + "0"):
        response = client.post(reverse("customers:import_confirm"), {"token": forged, "kind": "customers"})
        assert response["Location"] == reverse("customers:import")
    assert not CreditReport.objects.exists()

    confirm(client, preview)
    response = confirm(client, preview)  # the back button
    assert "expired or was imported already" in " ".join(messages_of(client.get(response["Location"])))
    assert CreditReport.objects.count() == 1


def test_another_users_token_looks_missing_and_stays_with_its_owner(client, rm1, manager, customer):
    """The manager could import this file themselves, but not claim rm1's upload of it; and the
    answer does not tell them that the token exists."""
    client.force_login(rm1)
    rows = [REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "1", "0"]]
    preview = upload(client, "credit_reports", csv_upload(rows))

    other = Client()
    other.force_login(manager)
    foreign = confirm(other, preview)
    foreign_messages = messages_of(other.get(foreign["Location"]))
    missing = other.post(reverse("customers:import_confirm"), {"token": uuid.uuid4().hex})
    assert foreign["Location"] == missing["Location"] == reverse("customers:import")
    assert "expired or was imported already" in " ".join(foreign_messages)
    assert foreign_messages == messages_of(other.get(missing["Location"]))
    assert not CreditReport.objects.exists()

    assert is_result_page(confirm(client, preview))  # not spent by the manager
    assert CreditReport.objects.get().entered_by == rm1


def test_a_confirm_served_by_another_web_host_imports_the_upload(client, rm1, customer, settings, tmp_path_factory):
    """Behind a load balancer the confirm may reach another gunicorn host — another local disk —
    and, after the 30-minute idle logout, a new login: the upload is where every host sees it."""
    client.force_login(rm1)
    rows = [REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "1", "0"]]
    preview = upload(client, "credit_reports", csv_upload(rows))

    settings.VAR_DIR = another_disk = tmp_path_factory.mktemp("another-host")
    again = Client()
    again.force_login(rm1)
    response = confirm(again, preview)

    assert is_result_page(response)
    assert CreditReport.objects.count() == 1
    assert list(another_disk.iterdir()) == []


def test_a_users_sixth_upload_drops_their_oldest_however_often_they_log_in(rm1, customer):
    """Logging in again must not buy more room: the limit is the user's, not the session's."""
    logins, previews = [], []
    for day in range(1, 7):
        login = Client()
        login.force_login(rm1)
        rows = [REPORT_HEADER, [customer.credit_code, f"2026-03-0{day}", "AA", "1", "0"]]
        logins.append(login)
        previews.append(upload(login, "credit_reports", csv_upload(rows)))

    dropped = confirm(logins[0], previews[0])
    assert "expired or was imported already" in " ".join(messages_of(logins[0].get(dropped["Location"])))
    for login, preview in zip(logins[1:], previews[1:], strict=True):
        assert is_result_page(confirm(login, preview))
    assert sorted(CreditReport.objects.values_list("as_of__day", flat=True)) == [2, 3, 4, 5, 6]


def test_a_second_confirm_before_the_import_ran_imports_once(client, rm1, customer):
    """A double click: the second confirm arrives while the first one's import still waits for
    a worker. Only one gets the file; the other is sent back to the upload page. (Both claiming
    at the very same moment: test_pending_uploads.)"""
    client.force_login(rm1)
    rows = [REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "1", "0"]]
    preview = upload(client, "credit_reports", csv_upload(rows))
    token = {"token": preview.context["token"]}

    first = client.post(reverse("customers:import_confirm"), token)
    second = client.post(reverse("customers:import_confirm"), token)
    run_jobs()

    assert is_result_page(first)
    assert second["Location"] == reverse("customers:import")
    assert CreditReport.objects.count() == 1
    assert not PendingUpload.objects.exists()


def test_an_upload_not_confirmed_in_time_has_expired(client, rm1, customer):
    rows = [REPORT_HEADER, [customer.credit_code, "2026-03-01", "AA", "1", "0"]]
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.force_login(rm1)
        preview = upload(client, "credit_reports", csv_upload(rows))
        traveller.shift(PendingUpload.KEEP_FOR + timedelta(seconds=1))
        client.force_login(rm1)  # logged out long since: idle sessions end after 30 minutes

        response = confirm(client, preview)

    assert response["Location"] == reverse("customers:import")
    assert "expired or was imported already" in " ".join(messages_of(client.get(response["Location"])))
    assert not CreditReport.objects.exists()


def test_confirm_rejects_get(client, rm1):
    client.force_login(rm1)
    assert client.get(reverse("customers:import_confirm")).status_code == 405


@pytest.mark.parametrize("name", ["customers:import", "customers:import_confirm"])
def test_import_requires_login(client, name):
    for response in (client.get(reverse(name)), client.post(reverse(name))):
        assert response.status_code in (302, 405)
        if response.status_code == 302:
            assert reverse("login") in response["Location"]


# --- who may import what -------------------------------------------------------------------------
def test_risk_officer_imports_source_data_but_not_customers(client, risk_officer, customer):
    client.force_login(risk_officer)
    page = client.get(reverse("customers:import"))
    kinds = [key for key, _label in page.context["form"].fields["kind"].choices]
    assert kinds == ["credit_reports", "financial_statements"]

    rows = [["Company name", "Credit code"], ["x", credit_code(1)]]
    response = upload(client, "customers", csv_upload(rows))
    assert "kind" in response.context["form"].errors

    preview = upload(
        client, "credit_reports", csv_upload([REPORT_HEADER, [customer.credit_code, "2026-03-01", "C", "1", "9"]])
    )
    confirm(client, preview)
    assert CreditReport.objects.get().entered_by == risk_officer


def test_a_link_opens_the_import_at_a_kind_the_user_may_import(client, risk_officer):
    client.force_login(risk_officer)
    url = reverse("customers:import")
    assert client.get(url, {"kind": "financial_statements"}).context["form"]["kind"].value() == "financial_statements"
    assert client.get(url, {"kind": "customers"}).context["form"]["kind"].value() == "credit_reports"
    assert client.get(url, {"kind": "nonsense"}).context["form"]["kind"].value() == "credit_reports"


def test_user_without_a_role_may_not_import(client, team):
    client.force_login(make_user(None, team=team, username="nobody"))
    assert client.get(reverse("customers:import")).status_code == 403
    assert client.post(reverse("customers:import_confirm"), {"token": "0" * 32}).status_code == 403


def test_list_shows_import_and_export_buttons_carrying_the_filter(client, rm1):
    client.force_login(rm1)
    page = client.get(reverse("customers:list"), {"industry": "energy", "page": "1"}).content.decode()
    assert reverse("customers:import") in page
    assert reverse("customers:export_csv") + "?industry=energy" in page
    assert reverse("customers:export_xlsx") + "?industry=energy" in page


def test_export_links_follow_htmx_filtering(client, rm1):
    client.force_login(rm1)
    fragment = client.get(reverse("customers:list"), {"status": "active"}, headers={"HX-Request": "true"})
    assert reverse("customers:export_csv") + "?status=active" in fragment.content.decode()


# --- cells ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,234.50", Decimal("1234.50")),
        ("¥ 1234.5", Decimal("1234.50")),
        ("1234", Decimal("1234.00")),
        (1234, Decimal("1234.00")),
        (0.1 + 0.2, Decimal("0.30")),
        (1234.56, Decimal("1234.56")),
    ],
)
def test_money_is_read_exactly_as_decimal(value, expected):
    assert cells.money(value) == expected


@pytest.mark.parametrize("value", ["1,23.00", "12.345", "1e5", "abc", "-1", True])
def test_bad_amounts_are_refused(value):
    with pytest.raises(cells.CellError):
        cells.money(value)


@pytest.mark.parametrize(
    "value", ["2025-12-31", "2025/12/31", "2025.12.31", "2025年12月31日", "2025-12-31 00:00:00", 46022]
)
def test_dates_in_the_usual_spellings_and_excel_serials(value):
    assert cells.day(value) == date(2025, 12, 31)
