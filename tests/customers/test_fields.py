"""The fields a person enters are listed once (customers.fields): the forms, the imports and the
export take the same ones, and an import column without its field (or the other way round)
stops the code from loading instead of going missing from one channel."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from crm.roles import Role
from customers.exchange import export, kinds
from customers.fields import EDITABLE_FIELDS, SOURCE_FIELDS
from customers.forms import CustomerForm, source_form_class
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_customer_form_import_and_export_take_the_same_fields(team):
    form = CustomerForm(user=make_user(Role.RELATIONSHIP_MANAGER, team=team))
    assert list(form.fields) == list(EDITABLE_FIELDS)
    assert [c.field for c in kinds.CUSTOMERS.columns] == [*EDITABLE_FIELDS, "owner"]
    headers = [header for header, _value in export._columns()]
    assert headers[: len(EDITABLE_FIELDS)] == [str(kinds.CUSTOMERS.column(f).label) for f in EDITABLE_FIELDS]


@pytest.mark.parametrize(
    ("source", "kind"),
    [("credit_report", kinds.CREDIT_REPORTS), ("financial_statement", kinds.FINANCIAL_STATEMENTS)],
)
def test_a_source_form_and_its_import_take_the_same_fields(source, kind):
    assert list(source_form_class(source)().fields) == [SOURCE_FIELDS[source][0], "source", *SOURCE_FIELDS[source][1:]]
    assert [c.field for c in kind.columns] == ["credit_code", *SOURCE_FIELDS[source]]


def test_a_field_without_its_import_column_or_a_column_without_its_field_is_refused():
    name, code = kinds.CUSTOMERS.column("name"), kinds.CREDIT_CODE
    assert kinds._columns(("credit_code", "name"), (name, code)) == (code, name)
    for fields, columns in [
        (("name", "credit_code"), (name,)),  # a field with no column
        (("name",), (name, code)),  # a column with no field
        (("name", "credit_code"), (name, name)),  # one column twice
    ]:
        with pytest.raises(ImproperlyConfigured):
            kinds._columns(fields, columns)
