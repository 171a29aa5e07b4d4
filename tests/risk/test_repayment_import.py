"""Repayment import: upload → preview → confirm, all rows booked or none."""

import csv
import datetime
import io
import threading
import uuid
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse

from crm.roles import Role
from customers.exchange import cells
from customers.models import PendingUpload
from risk import imports, services
from risk.models import Facility, Repayment
from tests.conftest import run_jobs
from tests.factories import SCHEDULE, CustomerFactory, FacilityFactory, add_installments, add_repayments, make_user

D = Decimal
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2026, 3, 15)
HEADER = ["Facility code", "Received on", "Amount (CNY)", "Bank reference"]
UPLOAD, CONFIRM = reverse("risk:repayment_import"), reverse("risk:repayment_import_confirm")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today_and_nothing_on_local_disk(settings, tmp_path):
    # Each web host has its own disk: an upload kept there is lost to a confirm another host serves.
    settings.VAR_DIR = tmp_path
    with time_machine.travel(datetime.datetime(2026, 3, 15, 10, tzinfo=SHANGHAI), tick=False):
        yield
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def west_facility(west_customer):
    return FacilityFactory(customer=west_customer, drawn=D("500000.00"))


def csv_upload(rows, *, encoding="utf-8-sig", name="statement.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


def csv_bytes(rows) -> bytes:
    return csv_upload(rows).read()


def xlsx_upload(rows, *, name="statement.xlsx") -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def upload(client, file):
    return client.post(UPLOAD, {"file": file})


def confirm(client, preview):
    """Confirm, and let a worker run the booking it asked for (if it asked for one)."""
    response = client.post(CONFIRM, {"token": preview.context["token"]})
    run_jobs()
    return response


def is_result_page(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("customers:imports"))


def errors_of(response) -> dict[tuple[int, str], str]:
    return {(e.row, e.column): e.message for e in response.context["errors"]}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if "messages" in response.context else []


def outstanding(facility: Facility) -> Decimal:
    facility.refresh_from_db()
    return facility.outstanding


def test_the_preview_shows_every_line_of_a_statement(client, risk_officer, facility):
    """A statement is short and the officer checks it line by line: 60 lines are all on the
    preview (the customer import shows its first 50 rows of a much longer file)."""
    client.force_login(risk_officer)
    rows = [HEADER] + [[str(facility.code), "2026-03-01", "10", f"REF-{n:03}"] for n in range(60)]
    preview = upload(client, csv_upload(rows))
    assert preview.status_code == 200
    assert len(preview.context["checked"].preview) == 60
    assert "REF-059" in preview.content.decode()


# --- Happy paths -----------------------------------------------------------------------------------
def test_risk_officer_imports_a_csv_and_outstanding_moves(client, risk_officer, facility, west_facility):
    client.force_login(risk_officer)
    rows = [
        HEADER,
        [str(facility.code), "2026-03-01", "1,234.50", "CMB-0001"],
        [str(facility.code), "2026/03/10", "100000", ""],
        [str(west_facility.code).upper(), "2026年3月14日", "¥50,000.00", "ICBC-77"],
    ]
    preview = upload(client, csv_upload(rows))

    assert preview.status_code == 200
    page = preview.content.decode()
    assert 'data-testid="import-valid"' in page
    assert "All 3 rows are valid" in page
    assert facility.customer.name in page and west_facility.customer.name in page
    totals = {t.facility: (t.rows, t.amount, t.owed, t.owed_after) for t in preview.context["checked"].totals}
    assert totals == {
        facility: (2, D("101234.50"), D("1000000.00"), D("898765.50")),
        west_facility: (1, D("50000.00"), D("500000.00"), D("450000.00")),
    }
    assert "151,234.50" in page  # the file's total
    assert not Repayment.objects.exists()  # the preview books nothing

    response = confirm(client, preview)
    assert is_result_page(response)
    booked = list(Repayment.objects.order_by("id").values_list("facility", "received_on", "amount", "reference"))
    assert booked == [
        (facility.pk, datetime.date(2026, 3, 1), D("1234.50"), "CMB-0001"),
        (facility.pk, datetime.date(2026, 3, 10), D("100000.00"), ""),
        (west_facility.pk, datetime.date(2026, 3, 14), D("50000.00"), "ICBC-77"),
    ]
    assert set(Repayment.objects.values_list("entered_by", flat=True)) == {risk_officer.pk}
    assert outstanding(facility) == D("898765.50")
    assert outstanding(west_facility) == D("450000.00")
    result = client.get(response["Location"]).content.decode()
    assert "Every row was imported." in result and "151,234.50" in result
    assert not PendingUpload.objects.exists()  # the waiting upload is gone


def test_admin_imports_an_xlsx_with_chinese_headers(client, admin_user, facility):
    client.force_login(admin_user)
    rows = [
        ["授信编号", "收款日期", "金额", "银行流水号", "备注"],
        [str(facility.code), datetime.datetime(2026, 3, 2), 1234.5, "流水 20260302-01", "首期"],
        [str(facility.code), "２０２６－０３－０３", "１２，３４５．６７", "", ""],  # full-width, as typed
        [str(facility.code), 46086, 0.1 + 0.2, "", ""],  # 46086: Excel's serial for 2026-03-05
    ]
    preview = upload(client, xlsx_upload(rows))
    assert preview.context["error_count"] == 0, errors_of(preview)
    assert preview.context["checked"].ignored == ["备注"]

    confirm(client, preview)
    assert list(Repayment.objects.order_by("id").values_list("received_on", "amount", "reference")) == [
        (datetime.date(2026, 3, 2), D("1234.50"), "流水 20260302-01"),
        (datetime.date(2026, 3, 3), D("12345.67"), ""),
        (datetime.date(2026, 3, 5), D("0.30"), ""),
    ]
    assert outstanding(facility) == D("986419.53")


def test_the_customer_credit_code_column_cross_checks_the_facility(client, risk_officer, facility, west_facility):
    client.force_login(risk_officer)
    rows = [
        [*HEADER, "统一社会信用代码"],
        [str(facility.code), "2026-03-01", "10", "", facility.customer.credit_code.lower()],
        [str(facility.code), "2026-03-02", "10", "", west_facility.customer.credit_code],
        [str(facility.code), "2026-03-03", "10", "", ""],  # optional
    ]
    response = upload(client, csv_upload(rows))
    assert errors_of(response) == {
        (3, "Credit code"): f"This facility belongs to another customer ({facility.customer.name})."
    }


# --- The preview shows every problem ---------------------------------------------------------------
def test_preview_lists_every_problem_with_its_row_and_column_and_books_nothing(client, risk_officer, facility):
    client.force_login(risk_officer)
    code = str(facility.code)
    rows = [
        HEADER,
        [code, "2026-03-01", "100.00", "A-1"],  # 2: fine
        [str(uuid.uuid4()), "2026-03-01", "100.00", ""],  # 3: no such facility
        ["FAC-0001", "2026-03-01", "100.00", ""],  # 4: not a code at all
        [code, "2026-03-16", "100.00", ""],  # 5: tomorrow
        [code, "2024-12-31", "100.00", ""],  # 6: before the facility started
        [code, "2026-03-01", "-100.00", ""],  # 7: negative
        [code, "2026-03-01", "lots", ""],  # 8: not a number
        [code, "2026-03-01", "12.345", ""],  # 9: below the fen
        [code, "2026-03-01", "0", ""],  # 10: nothing
        [code, "2026-03-01", "100.00", "A-1"],  # 11: repeats row 2
        [code, "2026-03-01", "999,900.00", ""],  # 12: fits alone (999,900 of 1,000,000)...
        [code, "2026-03-02", "1", ""],  # 13: ...not with rows 2 and 12 before it
        [code, "", "100", "x" * 101],  # 14: missing date, reference too long
    ]
    response = upload(client, csv_upload(rows))

    assert response.status_code == 200
    errors = errors_of(response)
    assert errors.pop((4, "Facility code")).startswith("“FAC-0001” is not a facility code.")
    assert errors == {
        (3, "Facility code"): "No facility with this code among the facilities you can see.",
        (5, "Received on"): "The date received cannot be in the future.",
        (6, "Received on"): "The date received is before the facility started on 2025-01-01.",
        (7, "Amount (CNY)"): "This amount cannot be negative.",
        (8, "Amount (CNY)"): "“lots” is not an amount. Write it like 1234.50 or 1,234.50.",
        (9, "Amount (CNY)"): "An amount has at most two decimal places (fen).",
        (10, "Amount (CNY)"): "The amount must be more than zero.",
        (11, "Amount (CNY)"): "Row 2 has the same facility, date, amount and bank reference.",
        (13, "Amount (CNY)"): "More than the facility still owes after the rows above for it: 0.00 CNY remain.",
        (14, "Received on"): "This value is required.",
        (14, "Bank reference"): "At most 100 characters are allowed; this has 101.",
    }
    page = response.content.decode()
    assert "Nothing will be imported" in page
    assert "11 of 13 rows have problems" in page
    assert 'data-testid="import-confirm"' not in page
    assert page.count('class="text-end tabular fw-normal table-danger"') == 11  # every bad row marked
    assert response.context["token"] is None
    assert not PendingUpload.objects.exists()  # nothing kept for a file that cannot be confirmed
    assert not Repayment.objects.exists()
    assert outstanding(facility) == D("1000000.00")


def test_a_single_row_over_what_is_owed_is_refused(client, risk_officer, facility):
    add_repayments(facility, [(datetime.date(2025, 6, 1), "250000.00")])
    facility.outstanding = D("750000.00")
    facility.save(update_fields=["outstanding"])
    client.force_login(risk_officer)
    response = upload(client, csv_upload([HEADER, [str(facility.code), "2026-03-01", "750,000.01", ""]]))
    assert errors_of(response) == {(2, "Amount (CNY)"): "More than the facility still owes: 750,000.00 CNY."}


def test_scheduled_interest_still_unpaid_counts_as_owed(client, risk_officer, facility):
    """Principal 400,000 and interest 17,000 scheduled; the remaining 600,000 unscheduled.
    The final payment may carry the interest: 1,017,000.00 in all, not a fen more."""
    add_installments(facility, SCHEDULE)
    client.force_login(risk_officer)
    code = str(facility.code)
    too_much = upload(client, csv_upload([HEADER, [code, "2026-03-01", "1017000.01", ""]]))
    assert errors_of(too_much) == {(2, "Amount (CNY)"): "More than the facility still owes: 1,017,000.00 CNY."}

    rows = [HEADER, [code, "2026-03-01", "17000.00", ""], [code, "2026-03-02", "1000000"]]
    preview = upload(client, csv_upload(rows))
    assert preview.context["error_count"] == 0
    confirm(client, preview)
    assert outstanding(facility) == D("0.00")


def test_a_repayment_already_recorded_with_the_same_reference_is_refused(client, risk_officer, facility):
    client.force_login(risk_officer)
    rows = [HEADER, [str(facility.code), "2026-03-01", "5000", "BOC-9"], [str(facility.code), "2026-03-01", "5000"]]
    confirm(client, upload(client, csv_upload(rows)))
    assert Repayment.objects.count() == 2

    again = upload(client, csv_upload(rows))
    # Without a reference nothing tells a second equal payment from the same one booked twice.
    assert errors_of(again) == {
        (2, "Bank reference"): "This repayment is already recorded: same facility, date, amount and bank reference."
    }
    assert Repayment.objects.count() == 2


def test_a_facility_the_user_cannot_see_looks_like_one_that_does_not_exist(manager, facility, west_facility):
    """Only admins and risk officers import today, and they see every facility; the rule is
    the importer's all the same: a team manager checking a file learns nothing of another
    team's facility."""
    rows = [HEADER, [str(west_facility.code), "2026-03-01", "1", ""], [str(uuid.uuid4()), "2026-03-01", "1", ""]]
    checked = imports.check(csv_bytes(rows), user=manager)
    assert [e.message for e in checked.errors] == [
        "No facility with this code among the facilities you can see.",
        "No facility with this code among the facilities you can see.",
    ]
    assert checked.totals == []  # no figure of the hidden facility either

    mine = imports.check(csv_bytes([HEADER, [str(facility.code), "2026-03-01", "1", ""]]), user=manager)
    assert mine.errors == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"Facility code,Amount (CNY)\nx,1\n", "“Received on”"),
        ("授信编号,金额,还款日期,收款日期\nx,1,2026-03-01,2026-03-01\n".encode(), "appears twice"),
        (b"\xd0\xcf\x11\xe0old excel", ".xls"),
    ],
)
def test_unusable_files_are_refused_with_a_clear_message(client, risk_officer, content, message):
    client.force_login(risk_officer)
    response = upload(client, SimpleUploadedFile("f.csv", content))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])


def test_preview_query_count_does_not_grow_with_rows(client, risk_officer, rm1, django_assert_max_num_queries):
    facilities = [FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team)) for _ in range(30)]
    for f in facilities:
        add_installments(f, SCHEDULE[:1])
        add_repayments(f, [(datetime.date(2025, 3, 31), "1000.00")])
    rows = [HEADER]
    rows += [[str(f.code), f"2026-03-{day:02d}", "10.00", f"R{day}"] for f in facilities for day in range(1, 11)]
    client.force_login(risk_officer)
    # 5 of them keep the upload: a savepoint around the user's lock, the row and the quota.
    # One more for the top bar's late-background-work notice, one for its count of exceptions
    # waiting for a decision.
    with django_assert_max_num_queries(16):
        response = upload(client, csv_upload(rows))
    assert response.context["error_count"] == 0
    assert len(response.context["checked"].totals) == 30
    assert 'data-testid="import-valid"' in response.content.decode()


# --- Confirm: all or nothing, once ----------------------------------------------------------------
def test_confirm_books_nothing_when_the_facility_changed_since_the_preview(client, risk_officer, facility):
    client.force_login(risk_officer)
    rows = [HEADER, [str(facility.code), "2026-03-01", "500000", "X-1"], [str(facility.code), "2026-03-02", "400000"]]
    preview = upload(client, csv_upload(rows))
    assert preview.context["error_count"] == 0
    # Meanwhile another repayment is booked: the file's 900,000 no longer fits in 800,000.
    services.repayment_record(facility=facility, received_on=TODAY, amount=D("200000.00"), by=risk_officer)

    response = confirm(client, preview)
    assert is_result_page(response)
    result = client.get(response["Location"])
    assert "Nothing was imported: these rows are not valid now" in result.content.decode()
    assert [(e["row"], e["column"], e["message"]) for e in result.context["run"].errors] == [
        (3, "Amount (CNY)", "More than the facility still owes after the rows above for it: 300,000.00 CNY remain.")
    ]
    assert Repayment.objects.count() == 1  # only the one booked in the meantime
    assert outstanding(facility) == D("800000.00")

    again = client.post(CONFIRM, {"token": preview.context["token"]})  # the token is spent
    assert "expired or was imported already" in " ".join(messages_of(client.get(again["Location"])))


def test_confirm_replayed_books_once(client, risk_officer, facility):
    client.force_login(risk_officer)
    preview = upload(client, csv_upload([HEADER, [str(facility.code), "2026-03-01", "1000", ""]]))

    assert confirm(client, preview).status_code == 302
    back_button = confirm(client, preview)
    assert "expired or was imported already" in " ".join(messages_of(client.get(back_button["Location"])))
    # The upload, not the session, is spent: another login of the same user cannot replay it.
    again = Client()
    again.force_login(risk_officer)
    assert confirm(again, preview)["Location"] == UPLOAD

    assert Repayment.objects.count() == 1
    assert outstanding(facility) == D("999000.00")


def test_forged_or_foreign_tokens_book_nothing(client, risk_officer, admin_user, facility):
    client.force_login(risk_officer)
    preview = upload(client, csv_upload([HEADER, [str(facility.code), "2026-03-01", "1000", ""]]))
    for forged in ("", "../../crm.sqlite3", "0" * 32):
        response = client.post(CONFIRM, {"token": forged})
        assert response["Location"] == UPLOAD

    other = Client()
    other.force_login(admin_user)  # may import repayments, but not claim the risk officer's upload
    foreign = confirm(other, preview)
    foreign_messages = messages_of(other.get(foreign["Location"]))
    missing = other.post(CONFIRM, {"token": uuid.uuid4().hex})
    assert foreign["Location"] == missing["Location"] == UPLOAD
    assert "expired or was imported already" in " ".join(foreign_messages)
    assert foreign_messages == messages_of(other.get(missing["Location"]))
    assert not Repayment.objects.exists()

    assert is_result_page(confirm(client, preview))  # still the risk officer's to confirm
    assert Repayment.objects.get().entered_by == risk_officer


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_confirm_waits_for_a_facility_being_written_and_judges_what_it_wrote(rm1, risk_officer, customer, lock_waiters):
    """An import that checked the facility before another writer's commit would book on stale
    figures. The import locks the facility first, so it waits and then sees the new repayment."""
    facility = FacilityFactory(customer=customer)
    data = csv_bytes([HEADER, [str(facility.code), "2026-03-01", "900000", ""]])
    outcome: list[object] = []

    def run_import() -> None:
        try:
            outcome.append(imports.repayments_import(data=data, by=risk_officer))
        except BaseException as exc:  # reported to the test thread
            outcome.append(exc)
        finally:
            connections.close_all()

    importer = threading.Thread(target=run_import)
    with transaction.atomic():
        services.repayment_record(facility=facility, received_on=TODAY, amount=D("200000.00"), by=rm1)
        importer.start()
        lock_waiters.wait(1)  # the import waits for the facility's lock
        lock_waiters.letting_go()
    importer.join(timeout=30)
    lock_waiters.assert_waited()

    [result] = outcome
    assert isinstance(result, imports.ImportChanged), result
    assert [e.message for e in result.checked.errors] == ["More than the facility still owes: 800,000.00 CNY."]
    assert Repayment.objects.count() == 1
    assert outstanding(facility) == D("800000.00")


# --- Who may import --------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.RELATIONSHIP_MANAGER, Role.TEAM_MANAGER, None])
def test_only_risk_officers_and_admins_may_import(client, team, facility, role):
    client.force_login(make_user(role, team=team, username="someone"))
    assert client.get(UPLOAD).status_code == 403
    rows = [HEADER, [str(facility.code), "2026-03-01", "1000", ""]]
    assert client.post(UPLOAD, {"file": csv_upload(rows)}).status_code == 403
    assert client.post(CONFIRM, {"token": "0" * 32}).status_code == 403
    assert not Repayment.objects.exists()


@pytest.mark.parametrize("url", [UPLOAD, CONFIRM])
def test_anonymous_is_sent_to_login(client, url):
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_confirm_rejects_get(client, risk_officer):
    client.force_login(risk_officer)
    assert client.get(CONFIRM).status_code == 405


def test_upload_page_lists_the_columns_with_their_chinese_names(client, risk_officer):
    client.force_login(risk_officer)
    page = client.get(UPLOAD).content.decode()
    assert 'data-testid="import-form"' in page
    for name in ("Facility code", "Received on", "Amount (CNY)", "Bank reference", "收款日期", "银行流水号"):
        assert name in page


def test_upload_page_states_the_limits_the_check_applies(client, risk_officer, facility, monkeypatch):
    client.force_login(risk_officer)
    assert "at most 5 MB and 20,000 rows" in client.get(UPLOAD).content.decode()

    monkeypatch.setattr(cells, "MAX_ROWS", 1)
    monkeypatch.setattr(cells, "MAX_UPLOAD_BYTES", 2 * 1024 * 1024)
    assert "at most 2 MB and 1 rows" in client.get(UPLOAD).content.decode()
    rows = [HEADER, [str(facility.code), "2026-03-01", "1", ""], [str(facility.code), "2026-03-02", "1", ""]]
    response = upload(client, csv_upload(rows))
    assert "more than 1 rows" in " ".join(response.context["form"].errors["file"])


# --- Cells -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("1,234.50", D("1234.50")), ("１２３４．５", D("1234.50")), ("￥１，０００", D("1000.00")), (12.5, D("12.50"))],
)
def test_amounts_in_ascii_or_full_width_digits(value, expected):
    assert imports.AMOUNT.parse(value) == expected
