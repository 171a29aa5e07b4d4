import pytest
from django.urls import reverse

from tests.conftest import broker_at, free_port, silent_server

pytestmark = pytest.mark.django_db


def test_health_reports_database_cache_and_broker(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["cache"]["ok"] and body["broker"]["ok"]


def test_health_needs_no_login_and_reveals_no_data(client, customer):
    body = client.get(reverse("health")).content.decode()
    assert customer.name not in body


def test_health_says_broker_down_but_stays_200(client):
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get(reverse("health"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


def test_health_answers_fast_when_broker_is_silent(client):
    with silent_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        response = client.get(reverse("health"))
    body = response.json()
    assert body["broker"]["ok"] is False
    assert body["broker"]["ms"] < 2000
