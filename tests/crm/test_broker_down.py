"""With the broker refused or silent, pages still answer within 2 seconds, the change is saved,
and the user is told that background processing is delayed."""

import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from crm.queue import BROKER_DELAYED_KEY
from customers.models import Customer
from tests.conftest import broker_at, free_port, silent_server
from tests.customers.test_views import form_data

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # on_commit must really fire


@pytest.fixture(autouse=True)
def _clear_flag():
    cache.delete(BROKER_DELAYED_KEY)
    yield
    cache.delete(BROKER_DELAYED_KEY)


def create_customer_timed(client):
    started = time.monotonic()
    response = client.post(reverse("customers:create"), form_data())
    return response, time.monotonic() - started


def test_refused_broker_does_not_break_saving(client, rm1):
    client.force_login(rm1)
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        response, seconds = create_customer_timed(client)
        assert response.status_code == 302
        assert seconds < 2
        page = client.get(response["Location"]).content.decode()
    assert Customer.objects.filter(owner=rm1).count() == 1
    assert "Background processing is delayed" in page


def test_silent_broker_does_not_hang_the_page(client, rm1):
    client.force_login(rm1)
    with silent_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        response, seconds = create_customer_timed(client)
        assert response.status_code == 302
        assert seconds < 2
        started = time.monotonic()
        page = client.get(reverse("customers:list"))
        assert time.monotonic() - started < 2
    assert Customer.objects.count() == 1
    assert "Background processing is delayed" in page.content.decode()


def test_no_banner_while_the_broker_works(client, rm1):
    client.force_login(rm1)
    response, _ = create_customer_timed(client)
    assert "Background processing is delayed" not in client.get(response["Location"]).content.decode()
