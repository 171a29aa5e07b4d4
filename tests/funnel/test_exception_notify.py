"""Filing an exception request asks for a background job (in the request's transaction), and
the job mails whoever may decide it, in their language, with a link to the deal's terms."""

import pytest
from django.core import mail

from crm.models import Job
from funnel import services
from funnel.tasks import exception_requested_notify
from tests.factories import set_terms, tick_all, to_due_diligence

pytestmark = pytest.mark.django_db


@pytest.fixture
def requested(deal, rm1, manager, risk_officer):
    """rm1's request on their deal priced under the AA policy; manager and risk may decide."""
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    set_terms(deal, spread_bps=60)
    deal.refresh_from_db()
    return services.exception_request(deal=deal, by=rm1, reason="Strategic customer; the competitor offers 60 bp")


def test_the_request_asks_for_the_notice_in_its_transaction(requested, rm1):
    [job] = Job.objects.all()
    assert job.task == "funnel.tasks.exception_requested_notify"
    assert job.kwargs == {"exception_id": requested.pk} and job.requested_by == rm1


def test_it_mails_the_deciders_but_not_the_requester(requested, rm1, manager, risk_officer, settings):
    settings.SITE_URL = "https://crm.example.com/"
    assert exception_requested_notify(exception_id=requested.pk) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([manager.email, risk_officer.email])
    deal = requested.deal
    message = mail.outbox[0]
    assert deal.title in message.subject and deal.customer.name in message.subject
    assert str(rm1) in message.body and requested.reason in message.body and deal.customer.name in message.body
    assert f"https://crm.example.com/funnel/deals/{deal.code}/#terms" in message.body
    assert "https://crm.example.com/funnel/exceptions/" in message.body


def test_it_writes_in_each_deciders_language(requested, manager, risk_officer):
    manager.language = "zh-hans"
    manager.save(update_fields=["language"])
    exception_requested_notify(exception_id=requested.pk)
    by_user = {m.to[0]: m for m in mail.outbox}
    assert by_user[manager.email].subject.startswith("待您审批的例外申请")
    assert "申请" in by_user[manager.email].body
    assert by_user[risk_officer.email].subject.startswith("Exception to decide")


def test_it_mails_nobody_once_the_request_is_decided(requested, manager):
    services.exception_decide(exception=requested, by=manager, approve=True)
    assert exception_requested_notify(exception_id=requested.pk) == 0
    assert mail.outbox == []


def test_it_does_nothing_for_a_deleted_request(db):
    assert exception_requested_notify(exception_id=999999) == 0
    assert mail.outbox == []
