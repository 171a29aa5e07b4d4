"""The customer page and the deal page show their facilities (risk's panel through crm.panels):
code linking to the facility page, limit, drawn, outstanding, maturity, overdue state — one
query for the facilities however many there are."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from tests.factories import SCHEDULE, DealFactory, FacilityFactory, add_installments

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2025, 5, 15, 10, tzinfo=SHANGHAI), tick=False):
        yield


def customer_page(client, customer):
    return client.get(reverse("customers:detail", args=[customer.code]))


def deal_page(client, deal):
    return client.get(reverse("funnel:detail", args=[deal.code]))


def test_customer_page_lists_its_facilities_with_their_state(client, rm1, customer, scheduled):
    fine = FacilityFactory(customer=customer, limit="5000000.00", drawn="4500000.00", outstanding="4400000.00")
    client.force_login(rm1)
    page = customer_page(client, customer).content.decode()
    assert 'data-testid="facilities-panel"' in page
    for facility in (scheduled, fine):
        assert f'href="{reverse("risk:facility", args=[facility.code])}"' in page
        assert f'href="{reverse("funnel:detail", args=[facility.deal.code])}"' in page
    assert "5,000,000.00" in page and "4,500,000.00" in page and "4,400,000.00" in page
    assert "2027-12-31" in page
    # The scheduled one: 209,500 due by today, nothing repaid, oldest unpaid 03-31 → 45 days.
    assert "209,500.00" in page and "45 days overdue" in page
    assert page.count('data-testid="not-overdue"') == 1
    assert f'href="{reverse("risk:facilities")}?q={customer.credit_code}"' in page


def test_deal_page_shows_its_facility(client, rm1, customer, scheduled):
    other = FacilityFactory(customer=customer)
    client.force_login(rm1)
    page = deal_page(client, scheduled.deal).content.decode()
    assert f'href="{reverse("risk:facility", args=[scheduled.code])}"' in page
    assert str(other.code) not in page
    assert "45 days overdue" in page


def test_no_panel_without_facilities(client, rm1, customer):
    deal = DealFactory(customer=customer)
    client.force_login(rm1)
    assert 'data-testid="facilities-panel"' not in customer_page(client, customer).content.decode()
    assert 'data-testid="facilities-panel"' not in deal_page(client, deal).content.decode()


def test_panels_in_chinese(client, rm1, scheduled):
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    client.force_login(rm1)
    page = customer_page(client, scheduled.customer).content.decode()
    assert "逾期 45 天" in page and "授信额度（元）" in page


def _queries(client, url, django_assert_max_num_queries, limit=60) -> list[str]:
    with django_assert_max_num_queries(limit) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def _facility_reads(queries: list[str]) -> int:
    return sum(1 for sql in queries if sql.startswith("SELECT") and 'FROM "risk_facility"' in sql)


def test_customer_page_costs_the_same_with_none_one_or_many_facilities(
    client, rm1, customer, django_assert_max_num_queries
):
    client.force_login(rm1)
    url = reverse("customers:detail", args=[customer.code])
    none = _queries(client, url, django_assert_max_num_queries)
    add_installments(FacilityFactory(customer=customer), SCHEDULE)
    one = _queries(client, url, django_assert_max_num_queries)
    for _ in range(5):
        add_installments(FacilityFactory(customer=customer), SCHEDULE)
    many = _queries(client, url, django_assert_max_num_queries)
    assert len(none) == len(one) == len(many)
    assert _facility_reads(many) == 1  # the facilities, with their overdue figures, in one query


def test_deal_page_costs_one_query_for_its_facility(client, rm1, customer, django_assert_max_num_queries):
    deal = DealFactory(customer=customer, stage="funded")
    client.force_login(rm1)
    url = reverse("funnel:detail", args=[deal.code])
    without = _queries(client, url, django_assert_max_num_queries)
    add_installments(FacilityFactory(customer=customer, deal=deal), SCHEDULE)
    funded = _queries(client, url, django_assert_max_num_queries)
    assert len(funded) == len(without)
    assert _facility_reads(funded) == 1
