import pytest
from django.core import mail

from crm.roles import Role
from customers.tasks import customer_created_notify
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_it_mails_the_team_managers_but_not_the_creator(customer, manager, rm1, rm_west):
    other_manager = make_user(Role.TEAM_MANAGER, team=rm_west.team, username="west_mgr")
    assert customer_created_notify(customer_id=customer.pk, created_by_id=rm1.pk) == 1
    [message] = mail.outbox
    assert message.to == [manager.email]
    assert customer.name in message.subject
    assert str(customer.code) in message.body
    assert other_manager.email not in message.to


def test_it_writes_in_the_managers_language(customer, manager, rm1):
    manager.language = "zh-hans"
    manager.save()
    customer_created_notify(customer_id=customer.pk, created_by_id=rm1.pk)
    assert mail.outbox[0].subject.startswith("新客户")


def test_it_does_nothing_for_a_deleted_customer(db, rm1):
    assert customer_created_notify(customer_id=999999, created_by_id=rm1.pk) == 0
    assert mail.outbox == []
