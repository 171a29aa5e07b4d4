"""The customer search: a name containing the text, or a credit code starting with it, whatever
the case, for texts short and long. Texts with a run of three letters or digits are looked up in
the trigram index on PostgreSQL (customers/0018: a table of its own, kept by triggers); shorter
ones are compared without it."""

import html

import pytest
from django.db import connection
from django.urls import reverse

from customers.models import Customer, GradeReason
from customers.regrade import regrade
from tests.factories import CustomerFactory, credit_code

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
NAMES = ["华能新能源集团有限公司", "Zhongtai Water Co., Ltd.", "Bluewater Ports Ltd.", "宁波港口扩建项目有限公司"]


@pytest.fixture
def book(rm1):
    return [
        CustomerFactory(owner=rm1, team=rm1.team, name=name, credit_code=credit_code(7000 + n))
        for n, name in enumerate(NAMES)
    ]


def found(client, text: str) -> set[str]:
    body = client.get(LIST, {"q": text}).content.decode()
    return {name for name in NAMES if html.escape(name) in body}


def uses_the_trigram_index(text: str) -> bool:
    """Whether PostgreSQL can read the trigram index for the search: as it must at scale for a
    text it can look up there, and must not for one it cannot (it would read the whole index,
    2.9 s at 1M). With scans of the table and in index order off, the plan uses every index the
    condition lets it use; these few rows would not tell otherwise."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        plan = Customer.objects.search(text).explain()
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")
    return "customers_name_search_trgm" in plan


@pytest.mark.parametrize(
    ("text", "names", "indexed"),
    [
        ("能源集", {"华能新能源集团有限公司"}, True),  # three characters in a row
        ("能源", {"华能新能源集团有限公司"}, False),  # two: compared without the index
        ("港", {"宁波港口扩建项目有限公司"}, False),
        ("water", {"Zhongtai Water Co., Ltd.", "Bluewater Ports Ltd."}, True),
        ("WATER CO", {"Zhongtai Water Co., Ltd."}, True),
        ("Co", {"Zhongtai Water Co., Ltd."}, False),
        ("  ltd.  ", {"Zhongtai Water Co., Ltd.", "Bluewater Ports Ltd."}, True),
        ("50%", set(), False),  # LIKE's wildcards are plain characters
        ("_", set(), False),
        ("铁路", set(), False),
    ],
)
def test_a_name_is_found_by_any_part_of_it(client, rm1, book, text, names, indexed):
    client.force_login(rm1)
    assert found(client, text) == names
    if connection.vendor == "postgresql":
        assert uses_the_trigram_index(text) is indexed


def test_a_credit_code_is_found_by_its_start_not_its_middle(client, rm1, book):
    client.force_login(rm1)
    code = book[1].credit_code
    assert found(client, code) == {"Zhongtai Water Co., Ltd."}
    assert found(client, code[:17]) == {"Zhongtai Water Co., Ltd."}  # the four differ in the 17th
    assert found(client, code[:17].lower()) == {"Zhongtai Water Co., Ltd."}
    assert len(found(client, code[:8])) == 4  # all four start alike
    assert found(client, code[8:]) == set()


def test_the_search_finds_no_customer_outside_the_users_scope(client, rm1, rm2, book):
    client.force_login(rm2)
    assert found(client, "water") == set()
    assert found(client, "港") == set()


def names_in_the_search_table() -> dict[int, str] | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name_upper FROM customers_name_search")
        return dict(cursor.fetchall())


def test_the_search_follows_every_way_a_name_is_written(client, rm1, book):
    client.force_login(rm1)
    zhongtai, bluewater = book[1], book[2]

    zhongtai.name = "Zhongtai Hydro Co., Ltd."
    zhongtai.save()
    Customer.objects.filter(pk=bluewater.pk).update(name="Bluesky Ports Ltd.")
    Customer.objects.bulk_create(
        [CustomerFactory.build(name="Waterline Energy", credit_code=credit_code(7100), owner=rm1, team=rm1.team)]
    )
    Customer.objects.filter(name="华能新能源集团有限公司").delete()
    regrade(reason=GradeReason.SCORECARD_PUBLISHED)  # rewrites every customer, no name

    body = client.get(LIST, {"q": "hydro"}).content.decode()
    assert "Zhongtai Hydro Co., Ltd." in body
    body = client.get(LIST, {"q": "water"}).content.decode()
    assert "Waterline Energy" in body and "Zhongtai" not in body and "Bluesky" not in body
    assert found(client, "能源集") == set()
    assert "Bluesky Ports Ltd." in client.get(LIST, {"q": "BLUESKY"}).content.decode()

    table = names_in_the_search_table()
    if table is not None:  # PostgreSQL: the kept table is every customer's name, upper-cased
        assert table == {c.pk: c.name.upper() for c in Customer.objects.all()}
