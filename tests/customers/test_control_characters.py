"""Issue #11: a customer name holding "\r\nBcc: …" was saved, and the managers' "new customer"
e-mail then failed with BadHeaderError and was lost without a trace."""

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Contact, Customer
from customers.tasks import customer_created_notify
from tests.factories import credit_code, customer_form_data

pytestmark = pytest.mark.django_db

INJECTION = "Acme Ltd\r\nBcc: everyone@example.com"


customer_data = customer_form_data


def test_rm_cannot_save_a_customer_name_with_a_line_break(client, rm1):
    client.force_login(rm1)
    response = client.post(reverse("customers:create"), customer_data(name=INJECTION))
    assert response.status_code == 200
    assert "U+000D" in " ".join(response.context["form"].errors["name"])
    assert not Customer.objects.exists()


def test_rm_cannot_edit_a_name_into_a_paragraph_separator(client, rm1, customer):
    client.force_login(rm1)
    data = customer_data(name="Acme\u2029Ltd", credit_code=customer.credit_code)
    response = client.post(reverse("customers:edit", args=[customer.code]), data)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["name"]
    customer.refresh_from_db()
    assert "\u2029" not in customer.name


@pytest.mark.parametrize("field", ["name", "title", "phone"])
def test_contact_fields_refuse_control_characters(client, rm1, customer, field):
    client.force_login(rm1)
    data = {"name": "王经理", "title": "CFO", "phone": "021-5555", "email": "", **{field: "x\ny"}}
    response = client.post(reverse("customers:contact_create", args=[customer.code]), data)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert not Contact.objects.exists()


def test_a_note_keeps_its_line_breaks(client, rm1, customer):
    client.force_login(rm1)
    client.post(reverse("customers:activity_create", args=[customer.code]), {"kind": "note", "body": "one\r\ntwo"})
    assert customer.activities.get().body == "one\r\ntwo"


def test_an_imported_name_with_a_line_break_is_a_row_error(client, rm1, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client.force_login(rm1)
    data = io.StringIO()
    data.write("Company name,Credit code,Industry,Registered capital (CNY),Industry position\r\n")
    data.write(f'"Acme\nBcc: x@example.com",{credit_code(3)},energy,1000000,leader\r\n')
    upload = SimpleUploadedFile("c.csv", data.getvalue().encode(), content_type="text/csv")

    response = client.post(reverse("customers:import"), {"kind": "customers", "file": upload})

    assert response.status_code == 200
    [error] = response.context["errors"]
    assert (error.row, error.column) == (2, "Company name")
    assert "U+000A" in error.message


def test_the_notice_for_a_name_saved_before_still_goes_out_on_one_line(customer, manager, rm1):
    Customer.objects.filter(pk=customer.pk).update(name=INJECTION)  # as rows saved before the fix
    assert customer_created_notify(customer_id=customer.pk, created_by_id=rm1.pk) == 1
    [message] = mail.outbox
    assert message.subject == "New customer: Acme Ltd Bcc: everyone@example.com"
    assert message.bcc == []
