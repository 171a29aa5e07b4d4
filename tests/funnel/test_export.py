import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from funnel import exchange
from funnel.views import lists as list_views
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

CSV = reverse("funnel:export_csv")
XLSX = reverse("funnel:export_xlsx")


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel needs the BOM to show Chinese correctly
    return list(csv.DictReader(io.StringIO(text[1:])))


def xlsx_rows(response) -> list[dict]:
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def book(customer, other_customer, west_customer):
    """rm1: two deals; rm2 (rm1's teammate) and rm_west: one each."""
    return {
        "solar": DealFactory(
            customer=customer,
            title="光伏电站二期",
            stage="due_diligence",
            probability=50,
            amount=Decimal("12345678.91"),
            expected_close=datetime.date(2026, 3, 31),
        ),
        "wind": DealFactory(customer=customer, title="海上风电", amount=Decimal("500000000.00")),
        "port": DealFactory(customer=other_customer, title="港口扩建"),
        "mine": DealFactory(customer=west_customer, title="矿区铁路"),
    }


def test_login_required(client):
    for url in (CSV, XLSX):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_rm_export_never_contains_other_rms_deals(client, rm1, book):
    client.force_login(rm1)
    response = client.get(CSV)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert sorted(r["Deal"] for r in csv_rows(response)) == ["光伏电站二期", "海上风电"]
    for url in (CSV, XLSX):
        for code in (book["port"].code, book["mine"].code):
            assert str(code).encode() not in body(client.get(url))


def test_manager_exports_the_team_but_not_west(client, manager, book):
    client.force_login(manager)
    titles = {r["Deal"] for r in csv_rows(client.get(CSV))}
    assert titles == {"光伏电站二期", "海上风电", "港口扩建"}


def test_risk_officer_exports_every_deal(client, risk_officer, book):
    client.force_login(risk_officer)
    assert len(csv_rows(client.get(CSV))) == 4


def test_csv_has_exact_amounts_and_iso_dates(client, rm1, book):
    client.force_login(rm1)
    rows = {r["Deal"]: r for r in csv_rows(client.get(CSV))}
    solar = rows["光伏电站二期"]
    assert solar["Amount (CNY)"] == "12345678.91"
    assert solar["Weighted amount (CNY)"] == "6172839.46"  # 50 %, rounded to the fen
    assert solar["Expected close"] == "2026-03-31"
    assert solar["Created"] == timezone.localdate(book["solar"].created_at).isoformat()
    assert solar["Relationship manager"] == "rm1"
    assert solar["Deal code"] == str(book["solar"].code)
    assert rows["海上风电"]["Amount (CNY)"] == "500000000.00"
    assert rows["海上风电"]["Expected close"] == ""


def test_export_applies_the_list_filters_and_ignores_the_cursor(client, rm1, book):
    client.force_login(rm1)
    response = client.get(CSV, {"stage": "due_diligence", "after": str(book["wind"].code)})
    assert [r["Deal"] for r in csv_rows(response)] == ["光伏电站二期"]
    rows = csv_rows(client.get(CSV, {"amount_min": "100000000"}))
    assert [r["Deal"] for r in rows] == ["海上风电"]


def test_export_of_another_rms_customer_is_empty(client, rm1, book):
    client.force_login(rm1)
    assert csv_rows(client.get(CSV, {"customer": str(book["port"].customer.code)})) == []


def test_export_has_every_row_not_one_page(client, rm1, customer):
    DealFactory.create_batch(list_views.PAGE_SIZE + 5, customer=customer)
    client.force_login(rm1)
    assert len(csv_rows(client.get(CSV))) == list_views.PAGE_SIZE + 5
    assert len(xlsx_rows(client.get(XLSX))) == list_views.PAGE_SIZE + 5


def test_export_is_newest_first(client, rm1, customer):
    now = timezone.now()
    for n, title in enumerate(["old", "middle", "new"]):
        DealFactory(customer=customer, title=title, created_at=now - datetime.timedelta(days=3 - n))
    client.force_login(rm1)
    assert [r["Deal"] for r in csv_rows(client.get(CSV))] == ["new", "middle", "old"]


def test_xlsx_has_the_filtered_deals_with_number_and_date_cells(client, rm1, book):
    client.force_login(rm1)
    response = client.get(XLSX, {"q": "二期"})
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response["Content-Disposition"]
    [row] = xlsx_rows(response)
    assert row["Deal"] == "光伏电站二期"
    assert row["Customer"] == "华东光伏电站项目有限公司"
    assert isinstance(row["Amount (CNY)"], int | float)
    assert Decimal(str(row["Amount (CNY)"])) == Decimal("12345678.91")
    assert Decimal(str(row["Weighted amount (CNY)"])) == Decimal("6172839.46")
    assert row["Expected close"].date() == datetime.date(2026, 3, 31)
    assert row["Probability (%)"] == 50
    assert row["Tier"] == "Unrated"


def test_headers_and_labels_follow_the_users_language(client, rm1, book):
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    client.force_login(rm1)
    for rows in (csv_rows(client.get(CSV)), xlsx_rows(client.get(XLSX))):
        header = set(rows[0])
        # Strings the Chinese catalogue already has; the funnel's own arrive with its translation.
        assert {"客户经理", "等级", "团队", "统一社会信用代码", "创建时间"} <= header
        assert "Relationship manager" not in header
        assert {r["等级"] for r in rows} == {"未评级"}


def test_headers_follow_the_browser_without_a_saved_language(client, rm1, book):
    client.force_login(rm1)
    rows = csv_rows(client.get(CSV, headers={"accept-language": "zh-hans"}))
    assert "客户经理" in rows[0]


def test_formula_in_a_title_stays_text(client, rm1, customer):
    DealFactory(customer=customer, title='=HYPERLINK("http://x")')
    client.force_login(rm1)
    [row] = csv_rows(client.get(CSV))
    assert row["Deal"].startswith("'=")
    [row] = xlsx_rows(client.get(XLSX))
    assert row["Deal"] == '=HYPERLINK("http://x")'


def test_admin_export_names_each_deals_team_and_customer(client, admin_user, book):
    client.force_login(admin_user)
    rows = {r["Deal"]: r for r in csv_rows(client.get(CSV))}
    assert rows["矿区铁路"]["Team"] == "West"
    assert rows["港口扩建"]["Team"] == "East"
    assert rows["港口扩建"]["Customer"] == "远航港口建设有限公司"


def test_xlsx_refuses_more_rows_than_a_sheet_holds(client, rm1, customer, monkeypatch):
    monkeypatch.setattr(exchange, "XLSX_MAX_ROWS", 2)
    DealFactory.create_batch(3, customer=customer)
    client.force_login(rm1)
    response = client.get(XLSX, {"stage": "prospect"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('funnel:list')}?stage=prospect"
    page = client.get(response["Location"]).content.decode()
    assert "too many for one Excel sheet" in page
    assert len(csv_rows(client.get(CSV))) == 3  # CSV has no such limit
    monkeypatch.setattr(exchange, "XLSX_MAX_ROWS", 3)
    assert len(xlsx_rows(client.get(XLSX))) == 3
