"""crm.keyset over orders of several columns, mixed directions included."""

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import keyset
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def firms(rm1):
    # Capital in pairs, names in threes: every column has ties.
    for n in range(10):
        CustomerFactory(
            owner=rm1, team=rm1.team, name=f"Firm {chr(ord('A') + n // 3)}", registered_capital=Decimal(n // 2)
        )
    return Customer.objects.all()


def pages(rows, order, size=3) -> list[list[int]]:
    out, after = [], None
    while True:
        page = keyset.keyset_page(rows, order=order, after=after, size=size)
        out.append([c.pk for c in page.rows])
        if not page.has_older:
            return out
        after = str(page.oldest.code)


@pytest.mark.parametrize(
    "order",
    [("-registered_capital", "name", "id"), ("registered_capital", "-name", "-id"), ("name", "-id"), ("-name", "id")],
)
def test_mixed_directions_visit_every_row_once_in_order(firms, order):
    expected = list(firms.order_by(*order).values_list("pk", flat=True))
    walked = pages(firms, order)
    assert [pk for page in walked for pk in page] == expected
    # And back: "before" the first row of each later page gives the page before it.
    for earlier, later in itertools.pairwise(walked):
        first = Customer.objects.get(pk=later[0])
        back = keyset.keyset_page(firms, order=order, before=str(first.code), size=3)
        assert [c.pk for c in back.rows] == earlier


def test_field_is_the_newest_first_shorthand(firms):
    by_field = keyset.keyset_page(firms, field="created_at", size=4)
    by_order = keyset.keyset_page(firms, order=("-created_at", "-id"), size=4)
    assert by_field == by_order


def test_an_order_without_the_id_or_with_a_nullable_column_is_refused(firms):
    with pytest.raises(ValueError, match="id"):
        keyset.keyset_page(firms, order=("name",))
    with pytest.raises(ValueError, match="NULL"):
        keyset.keyset_page(firms, order=("-statement_date", "-id"))


@pytest.mark.parametrize(("size", "count_queries"), [(10, 0), (9, 1)])
def test_a_page_holding_every_row_is_its_own_count(rf, firms, size, count_queries):
    """The first page of a list that fits on it counts its rows rather than asking again (for a
    search, the costly part twice); a list longer than a page is counted as before."""
    with CaptureQueriesContext(connection) as captured:
        context = keyset.page_context(rf.get("/"), firms, order=("name", "id"), size=size)
    assert (context["count"], context["count_capped"]) == (10, False)
    assert len(context["page"].rows) == size
    assert sum("COUNT(" in query["sql"] for query in captured.captured_queries) == count_queries
