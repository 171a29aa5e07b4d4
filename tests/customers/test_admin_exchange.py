"""The Django admin has no import or export of its own: its customer and data-source lists link
to the pages everyone uses, so an admin's file meets the same caps, access checks, preview,
confirm and re-grading as an RM's."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from bench import import_bombs
from crm.roles import Role
from customers.models import CreditReport, Customer
from tests.conftest import run_jobs
from tests.factories import credit_code, make_user

pytestmark = pytest.mark.django_db

REPORT_HEADER = ["Credit code", "Report date", "Bureau rating", "Outstanding debt (CNY)", "Bureau"]


def csv_file(rows) -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("data.csv", buffer.getvalue().encode("utf-8-sig"), content_type="text/csv")


def import_url(kind: str) -> str:
    return f"{reverse('customers:import')}?kind={kind}"


def staff(role: Role | None, *codenames: str, team=None):
    """A staff user holding the given model permissions (and, if given, a CRM role)."""
    user = make_user(role, team=team, username="clerk")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="customers", codename__in=codenames))
    return user


# --- the links -----------------------------------------------------------------------------------
def test_customer_change_list_links_to_the_import_and_the_export(client, admin_user, customer):
    client.force_login(admin_user)

    page = client.get(reverse("admin:customers_customer_changelist")).content.decode()

    assert f'href="{import_url("customers")}"' in page
    assert f'href="{reverse("customers:export_csv")}"' in page
    assert f'href="{reverse("customers:export_xlsx")}"' in page
    exported = client.get(reverse("customers:export_csv"))
    assert exported.status_code == 200
    assert customer.credit_code in b"".join(exported.streaming_content).decode()


@pytest.mark.parametrize(
    ("model", "kind"), [("creditreport", "credit_reports"), ("financialstatement", "financial_statements")]
)
def test_source_change_lists_open_the_import_at_their_kind(client, admin_user, model, kind):
    client.force_login(admin_user)

    page = client.get(reverse(f"admin:customers_{model}_changelist")).content.decode()
    assert f'href="{import_url(kind)}"' in page
    assert reverse("customers:export_csv") not in page  # the export is of customers only

    form = client.get(import_url(kind)).context["form"]
    assert form["kind"].value() == kind


def test_the_admins_own_import_and_export_are_gone(client, admin_user):
    for name in ("customer_import", "customer_export", "creditreport_import", "financialstatement_import"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:customers_{name}")


def test_links_show_only_what_the_user_may_import_on_the_page(client, customer):
    """A risk officer adds source data but registers no customers: the admin offers them what
    the import page does, whatever their model permissions say."""
    clerk = staff(Role.RISK_OFFICER, "view_customer", "add_customer", "change_customer", "view_creditreport")
    client.force_login(clerk)

    customers = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    reports = client.get(reverse("admin:customers_creditreport_changelist")).content.decode()

    assert reverse("customers:import") not in customers
    assert f'href="{import_url("credit_reports")}"' in reports


def test_staff_with_model_permissions_but_no_role_may_not_import(client, team):
    """Model permissions used to be enough for the admin's import; the import page asks for a role."""
    clerk = staff(None, "view_customer", "add_customer", "change_customer", "add_creditreport", team=team)
    client.force_login(clerk)

    page = client.get(reverse("admin:customers_customer_changelist")).content.decode()

    assert reverse("customers:import") not in page
    assert client.get(reverse("customers:import")).status_code == 403


# --- the checks an admin's file now meets -------------------------------------------------------
def test_an_admins_report_file_gets_the_row_checks_and_then_regrades(client, admin_user, customer):
    client.force_login(admin_user)
    future = (timezone.localdate() + timedelta(days=30)).isoformat()
    rows = [
        REPORT_HEADER,
        [customer.credit_code, "2026-03-01", "BB", "5000.10", ""],
        [customer.credit_code, future, "BB", "1", ""],  # row 3: not reported yet
        [credit_code(999), "2026-03-01", "BB", "1", ""],  # row 4: nobody's customer
        [customer.credit_code, "2026-02-01", "BB", "1", "X\r\nBcc: a@example.com"],  # row 5
    ]

    preview = client.post(reverse("customers:import"), {"kind": "credit_reports", "file": csv_file(rows)})

    assert {(e.row, e.column) for e in preview.context["errors"]} == {
        (3, "Report date"),
        (4, "Credit code"),
        (5, "Bureau"),
    }
    assert preview.context["token"] is None  # nothing to confirm
    assert not CreditReport.objects.exists()

    preview = client.post(reverse("customers:import"), {"kind": "credit_reports", "file": csv_file(rows[:2])})
    client.post(reverse("customers:import_confirm"), {"token": preview.context["token"]})
    run_jobs()

    report = CreditReport.objects.get()
    assert (report.customer, report.outstanding_debt, report.entered_by) == (customer, Decimal("5000.10"), admin_user)
    customer.refresh_from_db()
    assert customer.bureau_rating == "BB"
    # Re-graded: the report now scores. Other inputs are missing, so the customer stays Unrated and
    # the grade history (which records changes of tier or score) gets no row.
    assert customer.breakdown["bureau_rating"] is not None


def test_an_admins_customer_file_cannot_overwrite_a_registered_customer(client, admin_user, graded_customer):
    """The admin's import updated a customer found by credit code, grading inputs and all, and
    left its tier standing; the import page registers new companies only."""
    client.force_login(admin_user)
    rows = [
        [
            "Company name",
            "Credit code",
            "Industry",
            "Registered capital (CNY)",
            "Industry position",
            "Relationship manager",
        ],
        [
            graded_customer.name,
            graded_customer.credit_code,
            "energy",
            "1.00",
            "marginal",
            graded_customer.owner.username,
        ],
    ]

    preview = client.post(reverse("customers:import"), {"kind": "customers", "file": csv_file(rows)})

    assert {(e.row, e.column) for e in preview.context["errors"]} == {(2, "Credit code")}
    graded_customer.refresh_from_db()
    assert graded_customer.registered_capital == Decimal("500000000.00")
    assert Customer.objects.count() == 1


def test_an_admins_xlsx_bomb_is_refused_before_it_is_read(client, admin_user, tmp_path):
    path = import_bombs.wide_row(tmp_path / "bomb.xlsx", cells=100_000)
    client.force_login(admin_user)

    response = client.post(
        reverse("customers:import"),
        {"kind": "credit_reports", "file": SimpleUploadedFile("bomb.xlsx", path.read_bytes())},
    )

    assert "Row 1 has cells beyond column 200" in " ".join(response.context["form"].errors["file"])
