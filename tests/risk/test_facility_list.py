"""The facility list: scoped per role, filtered, cut into keyset pages, exported."""

import csv
import datetime
import io
import zoneinfo
from decimal import Decimal

import factory
import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import keyset
from customers import search
from tests.factories import SCHEDULE, CustomerFactory, FacilityFactory, add_installments, add_repayments

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2025, 5, 15)  # SCHEDULE: 03-31 and 04-30 are due, 05-31 and 06-30 are not yet
LIST = reverse("risk:facilities")
CSV, XLSX = reverse("risk:facilities_export_csv"), reverse("risk:facilities_export_xlsx")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2025, 5, 15, 10, tzinfo=SHANGHAI), tick=False):
        yield


@pytest.fixture
def book(customer, other_customer, west_customer):
    """rm1's customer: one facility 45 days overdue, maturing in 20 days, and one that is paid up
    (no schedule) maturing in a year and a half; rm2 and rm_west: one facility each."""
    late = FacilityFactory(customer=customer, maturity_date=TODAY + datetime.timedelta(days=20))
    add_installments(late, SCHEDULE)
    add_repayments(late, [(datetime.date(2025, 3, 20), "1000.00")])
    return {
        "late": late,
        "fine": FacilityFactory(customer=customer, maturity_date=datetime.date(2026, 12, 31)),
        "teammate": FacilityFactory(customer=other_customer, maturity_date=datetime.date(2025, 8, 1)),
        "west": FacilityFactory(customer=west_customer, maturity_date=datetime.date(2025, 4, 30)),
    }


def codes(response) -> set:
    assert response.status_code == 200
    return {f.code for f in response.context["page"].rows}


def test_login_required(client):
    for url in (LIST, CSV):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_rm_sees_only_own_customers_facilities(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST)
    assert codes(response) == {book["late"].code, book["fine"].code}
    assert "远航港口建设有限公司" not in response.content.decode()
    assert response.context["count"] == 2


def test_manager_sees_the_team_risk_officer_everything(client, manager, risk_officer, admin_user, book):
    client.force_login(manager)
    assert codes(client.get(LIST)) == {book[k].code for k in ("late", "fine", "teammate")}
    for user in (risk_officer, admin_user):
        client.force_login(user)
        assert codes(client.get(LIST)) == {f.code for f in book.values()}


def test_nav_links_to_the_list(client, rm1, book):
    client.force_login(rm1)
    page = client.get(reverse("home")).content.decode()
    assert f'href="{LIST}"' in page


def test_row_shows_code_link_amounts_maturity_and_days_overdue(client, rm1, book):
    client.force_login(rm1)
    page = client.get(LIST).content.decode()
    late = book["late"]
    assert f'href="{reverse("risk:facility", args=[late.code])}"' in page
    assert str(late.code) in page
    assert "1,200,000.00" in page and "1,000,000.00" in page
    assert (TODAY + datetime.timedelta(days=20)).isoformat() in page
    # Due by today: 105,000 + 104,500 = 209,500; 1,000 repaid; oldest unpaid 03-31 → 45 days.
    assert "208,500.00" in page
    assert "45 days overdue" in page
    assert page.count('data-testid="not-overdue"') == 1  # the other facility


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"overdue": "yes"}, {"late"}),
        ({"overdue": "no"}, {"fine", "teammate", "west"}),
        ({"matures": "30"}, {"late"}),
        ({"matures": "90"}, {"late", "teammate"}),
        ({"matures": "past"}, {"west"}),
        ({"maturity_from": "2025-07-01", "maturity_to": "2025-12-31"}, {"teammate"}),
        ({"q": "西部矿业"}, {"west"}),
        ({"tier": "B"}, set()),
    ],
)
def test_each_filter_narrows_the_list(client, risk_officer, book, params, expected):
    client.force_login(risk_officer)
    assert codes(client.get(LIST, params)) == {book[k].code for k in expected}


def test_a_repayment_dated_after_today_does_not_hide_what_is_overdue_today(client, risk_officer, book):
    # The filter reads the uncovered due date kept on each facility, which counts every
    # repayment. One dated after today (a row written around the forms, or a test's today)
    # would cover the late installments there; the waterfall as of today must decide instead.
    add_repayments(book["late"], [(TODAY + datetime.timedelta(days=3), "500000.00")])
    book["late"].refresh_from_db()
    assert book["late"].first_unpaid_due is None  # everything covered, counting that repayment
    client.force_login(risk_officer)
    assert codes(client.get(LIST, {"overdue": "yes"})) == {book["late"].code}
    assert book["late"].code not in codes(client.get(LIST, {"overdue": "no"}))


def test_a_name_common_in_one_place_of_the_alphabet_is_tested_facility_by_facility(client, risk_officer, rm1):
    # At 1M customers, "Tianrun" (11 % of the names, all under T) was looked up for all of its
    # 110,000 customers before the first page: 2.1 s for a risk officer. The list is by date,
    # so reading it in that order meets a match every few rows.
    search.forget_samples()
    CustomerFactory.create_batch(60, owner=rm1, team=rm1.team, name=factory.Sequence(lambda n: f"Anhe Power {n}"))
    zeta = [
        FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team, name=f"Zeta Holdings {n}")) for n in range(6)
    ]
    client.force_login(risk_officer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, {"q": "zeta hold"})
    assert codes(response) == {f.code for f in zeta}
    if connection.vendor == "postgresql":
        (page,) = [q["sql"] for q in queries if 'ORDER BY "risk_facility"."start_date" DESC' in q["sql"]]
        assert "STRPOS" in page and "customers_name_search" not in page
    search.forget_samples()


def test_customer_search_takes_the_credit_code(client, risk_officer, book):
    client.force_login(risk_officer)
    credit_code = book["teammate"].customer.credit_code
    assert codes(client.get(LIST, {"q": credit_code})) == {book["teammate"].code}


def test_team_filter_only_for_those_who_see_every_team(client, risk_officer, rm1, book, other_team):
    client.force_login(risk_officer)
    response = client.get(LIST, {"team": str(other_team.code)})
    assert codes(response) == {book["west"].code}
    client.force_login(rm1)
    response = client.get(LIST, {"team": str(other_team.code)})
    assert "team" not in response.context["filter"].form.fields
    assert codes(response) == {book["late"].code, book["fine"].code}  # ignored, never widened


def test_search_cannot_reach_another_rms_customer(client, rm1, book):
    client.force_login(rm1)
    assert codes(client.get(LIST, {"q": "远航港口"})) == set()


def test_htmx_request_gets_only_the_results(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="results"' in body
    assert "<nav" not in body.split('id="results"')[0]  # no page shell before the fragment


# --- Keyset pages -------------------------------------------------------------------------------
@pytest.fixture
def many(rm1, customer):
    """Two pages and a bit of rm1's facilities over three customers, two starting each day."""
    customers = [customer, *CustomerFactory.create_batch(2, owner=rm1, team=rm1.team)]
    return [
        FacilityFactory(
            customer=customers[n % 3], start_date=datetime.date(2024, 1, 1) + datetime.timedelta(days=n // 2)
        )
        for n in range(2 * keyset.PAGE_SIZE + 11)
    ]


def test_pages_cover_every_facility_once_newest_first_with_rel_links(client, rm1, many):
    client.force_login(rm1)
    first = client.get(LIST)
    page = first.context["page"]
    assert len(page.rows) == keyset.PAGE_SIZE and page.has_older and not page.has_newer
    assert 'rel="next"' in first.content.decode() and 'rel="prev"' not in first.content.decode()
    seen = [f.code for f in page.rows]
    response = first
    while response.context["page"].has_older:
        response = client.get(LIST, {"after": str(response.context["page"].oldest.code)})
        seen += [f.code for f in response.context["page"].rows]
    assert 'rel="prev"' in response.content.decode()
    assert len(seen) == len(set(seen)) == len(many)
    assert seen == [f.code for f in sorted(many, key=lambda f: (f.start_date, f.id), reverse=True)]
    back = client.get(LIST, {"before": str(response.context["page"].newest.code)})
    assert [f.code for f in back.context["page"].rows] == seen[keyset.PAGE_SIZE : 2 * keyset.PAGE_SIZE]


def test_a_deep_page_costs_what_the_first_costs(client, rm1, many, django_assert_max_num_queries):
    client.force_login(rm1)
    with django_assert_max_num_queries(12) as first:
        response = client.get(LIST)
    assert response.context["count"] == len(many)
    # The cursor's sort keys are read inside the page query (crm.keyset): no lookup of its own,
    # and never an OFFSET scan, so the second and a deep page cost exactly what the first did.
    with django_assert_max_num_queries(len(first.captured_queries)) as second:
        response = client.get(LIST, {"after": str(response.context["page"].oldest.code)})
    with django_assert_max_num_queries(len(first.captured_queries)) as deep:
        client.get(LIST, {"after": str(response.context["page"].oldest.code)})
    assert len(deep.captured_queries) == len(second.captured_queries) == len(first.captured_queries)


def test_count_is_capped_and_says_so(client, rm1, many, monkeypatch):
    monkeypatch.setattr(keyset, "COUNT_CAP", 20)
    client.force_login(rm1)
    response = client.get(LIST)
    assert response.context["count_capped"]
    assert "More than 20 facilities" in response.content.decode()


def test_a_cursor_of_someone_elses_facility_is_page_one(client, rm1, book):
    client.force_login(rm1)
    response = client.get(LIST, {"after": str(book["west"].code)})
    assert codes(response) == {book["late"].code, book["fine"].code}


# --- Export -------------------------------------------------------------------------------------
def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_export_links_carry_the_filters_but_not_the_cursor(client, rm1, many):
    client.force_login(rm1)
    response = client.get(LIST, {"overdue": "no", "after": str(many[0].code)})
    page = response.content.decode()
    assert f'href="{CSV}?overdue=no"' in page
    assert f'href="{XLSX}?overdue=no"' in page


def test_csv_has_the_codes_and_figures_of_the_filtered_scope(client, rm1, book):
    client.force_login(rm1)
    response = client.get(CSV, {"overdue": "yes"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="facilities-20250515.csv"')
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == 1
    row = rows[0]
    assert row["Facility code"] == str(book["late"].code)
    assert row["Customer"] == "华东光伏电站项目有限公司"
    assert row["Drawn (CNY)"] == "1000000.00"
    assert row["Overdue (CNY)"] == "208500.00"
    assert row["Days overdue"] == "45"
    assert row["Maturity date"] == "2025-06-04"


def test_xlsx_has_every_visible_facility_with_numbers_as_numbers(client, manager, book):
    client.force_login(manager)
    response = client.get(XLSX)
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    header, *rows = sheet.iter_rows(values_only=True)
    found = [dict(zip(header, row, strict=True)) for row in rows]
    assert {r["Facility code"] for r in found} == {str(book[k].code) for k in ("late", "fine", "teammate")}
    late = next(r for r in found if r["Facility code"] == str(book["late"].code))
    assert Decimal(str(late["Limit (CNY)"])) == Decimal("1200000.00")
    assert late["Days overdue"] == 45


def test_export_in_chinese_for_a_chinese_user(client, rm1, book):
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    client.force_login(rm1)
    text = body(client.get(CSV)).decode("utf-8")
    assert text.splitlines()[0].startswith("\ufeff授信编号")


# --- At scale ----------------------------------------------------------------------------------
def page_plan(client, user) -> str:
    """The plan of the query behind the user's first page, as PostgreSQL would read it at scale:
    with sorting off it takes an index that gives the list's order where one exists."""
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    (sql,) = [q["sql"] for q in queries if 'ORDER BY "risk_facility"."start_date" DESC' in q["sql"]]
    with connection.cursor() as cursor:
        for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
            cursor.execute(f"SET {setting} = off")
        try:
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET ALL")


@pytest.mark.parametrize(
    ("who", "index"),
    [("rm1", "facility_owner_list"), ("manager", "facility_team_list"), ("risk_officer", "facility_list")],
)
def test_each_scopes_page_is_the_first_rows_of_its_own_index(request, client, many, who, index):
    # At 500,000 facilities every page sorted all the facilities in the scope, through a join to
    # the customer: 542 ms for a team manager, 505 ms for a risk officer. Each scope now reads
    # its range of the copy of the owner and team (migration risk/0017) in list order.
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert len(client.get(LIST).context["page"].rows) == keyset.PAGE_SIZE
    if connection.vendor == "postgresql":
        plan = page_plan(client, user)
        assert f"Index Scan using {index} on risk_facility" in plan, plan
        above_the_scan = plan.split(f"Index Scan using {index}")[0]
        assert "Sort" not in above_the_scan, plan  # the rows come in list order: nothing sorts them
