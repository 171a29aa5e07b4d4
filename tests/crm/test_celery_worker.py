"""Through a real worker on the configured broker (filesystem locally, Redis in CI): a customer
created on the page is picked up by the worker, which mails the team manager."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.conftest import wait_for
from tests.factories import customer_form_data

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_creating_a_customer_mails_the_manager_through_the_worker(celery_worker, client, rm1, manager):
    client.force_login(rm1)
    response = client.post(reverse("customers:create"), customer_form_data(name="杭州湾大桥项目有限公司"))
    assert response.status_code == 302
    assert wait_for(lambda: len(mail.outbox) == 1), "the worker did not send the mail"
    assert mail.outbox[0].to == [manager.email]
    assert "杭州湾大桥项目有限公司" in mail.outbox[0].subject
