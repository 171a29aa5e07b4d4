"""With the broker refused or silent, pages still answer fast, the change is saved together
with its request for background work, the user is told that processing is delayed, and the
work runs once the broker is back — nobody doing anything."""

import time

import pytest
from django.core import mail
from django.urls import reverse

from crm.jobs import jobs_sweep
from crm.models import Job, JobStatus
from customers.models import Customer
from tests.conftest import broker_at, celery_worker_running, free_port, silent_server, wait_for
from tests.factories import credit_code, customer_form_data

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # on_commit must really fire


def create_customer_timed(client, **fields):
    started = time.monotonic()
    response = client.post(reverse("customers:create"), customer_form_data(**fields))
    return response, time.monotonic() - started


def test_refused_broker_keeps_the_request_and_says_so(client, rm1):
    client.force_login(rm1)
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        response, seconds = create_customer_timed(client)
        assert response.status_code == 302
        assert seconds < 1
        page = client.get(response["Location"]).content.decode()
    customer = Customer.objects.get(owner=rm1)
    job = Job.objects.get()
    assert (job.task, job.kwargs) == (
        "customers.tasks.customer_created_notify",
        {"customer_id": customer.pk, "created_by_id": rm1.pk},
    )
    assert job.status == JobStatus.PENDING and job.sends == 1 and "OperationalError" in job.last_error
    assert "Background processing is delayed" in page


def test_silent_broker_costs_one_request_half_a_second_and_the_next_nothing(client, rm1):
    client.force_login(rm1)
    connections = []
    with silent_server(connections) as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        first, first_seconds = create_customer_timed(client)
        tried = len(connections)
        second, _ = create_customer_timed(client, credit_code=credit_code(2))
        page = client.get(reverse("customers:list"))
    assert (first.status_code, second.status_code) == (302, 302)
    assert tried >= 1 and first_seconds < 1.5
    # The failed send opened the breaker: neither the second request nor the page tried the broker.
    assert len(connections) == tried
    assert Customer.objects.count() == 2
    assert list(Job.objects.values_list("status", "sends")) == [(JobStatus.PENDING, 0), (JobStatus.PENDING, 1)]
    assert "Background processing is delayed" in page.content.decode()


def test_work_asked_for_while_the_broker_was_down_runs_when_it_is_back(client, rm1, manager):
    client.force_login(rm1)
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        create_customer_timed(client, name="杭州湾大桥项目有限公司")
    assert mail.outbox == []
    # The broker is back: the beat's sweep sends what waited, the worker does it.
    with celery_worker_running():
        assert jobs_sweep()["sent"] == 1
        assert wait_for(lambda: len(mail.outbox) == 1), "the waiting notice was never sent"
        assert wait_for(lambda: Job.objects.get().status == JobStatus.DONE)
    assert "杭州湾大桥项目有限公司" in mail.outbox[0].subject
    assert 'data-testid="broker-delayed"' not in client.get(reverse("customers:list")).content.decode()


def test_no_banner_while_the_broker_works(client, rm1):
    client.force_login(rm1)
    response, _ = create_customer_timed(client)
    assert "Background processing is delayed" not in client.get(response["Location"]).content.decode()
