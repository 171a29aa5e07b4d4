"""Review reminders to relationship managers (risk.services.reminders)."""

import datetime

import pytest
from django.urls import reverse

from crm.models import User
from customers.models import Customer
from risk.services import reviews_flag_due
from tests.conftest import free_port
from tests.factories import CustomerFactory

TODAY = datetime.date(2025, 6, 2)
DAY = datetime.timedelta(days=1)
SITE = "https://crm.example.com"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE + "/"


def due_on(customer: Customer, date: datetime.date | None) -> Customer:
    Customer.objects.filter(pk=customer.pk).update(next_review_date=date)
    customer.refresh_from_db()
    return customer


def link(customer: Customer) -> str:
    return SITE + reverse("customers:detail", args=[customer.code])


@pytest.fixture
def rm1_due(rm1, customer):
    """rm1's customers: one due in 3 days, one overdue, one due in 7 days, one due in 8."""
    soon = due_on(customer, TODAY + 3 * DAY)
    overdue = due_on(CustomerFactory(owner=rm1, team=rm1.team, name="逾期复核有限公司"), TODAY - 10 * DAY)
    edge = due_on(CustomerFactory(owner=rm1, team=rm1.team, name="第七天有限公司"), TODAY + 7 * DAY)
    later = due_on(CustomerFactory(owner=rm1, team=rm1.team, name="下月复核有限公司"), TODAY + 8 * DAY)
    return soon, overdue, edge, later


def test_rm_gets_one_reminder_listing_reviews_due_within_a_week_or_past(rm1_due, rm1, mailoutbox):
    soon, overdue, edge, later = rm1_due
    assert reviews_flag_due(today=TODAY) == {"mails": 1, "customers": 3, "failed": 0}
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [rm1.email]
    assert mail.subject == "Reviews due: 3 customers"
    body = mail.body
    for c in (soon, overdue, edge):
        assert c.name in body
        assert link(c) in body
    assert later.name not in body
    assert "Review overdue: 2025-05-23" in body
    assert "Next review: 2025-06-05" in body
    # Soonest first: the overdue one leads.
    assert body.index(overdue.name) < body.index(soon.name) < body.index(edge.name)


def test_each_rm_gets_their_own_customers_only(rm1, rm2, customer, other_customer, mailoutbox):
    due_on(customer, TODAY)
    due_on(other_customer, TODAY + DAY)
    assert reviews_flag_due(today=TODAY)["mails"] == 2
    by_rm = {m.to[0]: m for m in mailoutbox}
    assert customer.name in by_rm[rm1.email].body and other_customer.name not in by_rm[rm1.email].body
    assert other_customer.name in by_rm[rm2.email].body and customer.name not in by_rm[rm2.email].body
    assert by_rm[rm2.email].subject == "Review due: 1 customer"


def test_not_reminded_again_on_a_second_run(rm1_due, mailoutbox):
    reviews_flag_due(today=TODAY)
    assert reviews_flag_due(today=TODAY) == {"mails": 0, "customers": 0, "failed": 0}
    assert len(mailoutbox) == 1


def test_reminded_again_when_the_review_date_changes(rm1_due, mailoutbox):
    soon, overdue, _edge, _later = rm1_due
    reviews_flag_due(today=TODAY)
    # The watch list pulled the review forward: a new date, a new reminder (of that one only).
    due_on(soon, TODAY + DAY)
    assert reviews_flag_due(today=TODAY)["customers"] == 1
    assert len(mailoutbox) == 2
    assert soon.name in mailoutbox[1].body and overdue.name not in mailoutbox[1].body
    assert Customer.objects.get(pk=soon.pk).review_reminded_for == TODAY + DAY


def test_a_review_coming_due_later_is_reminded_when_it_enters_the_week(rm1_due, mailoutbox):
    *_, later = rm1_due
    reviews_flag_due(today=TODAY)
    assert later.name not in mailoutbox[0].body
    reviews_flag_due(today=TODAY + DAY)
    assert len(mailoutbox) == 2 and later.name in mailoutbox[1].body


def test_rm_without_email_or_inactive_is_not_mailed_and_rows_stay_unclaimed(rm1, rm2, customer, other_customer):
    due_on(customer, TODAY)
    due_on(other_customer, TODAY)
    User.objects.filter(pk=rm1.pk).update(email="")
    User.objects.filter(pk=rm2.pk).update(is_active=False)
    assert reviews_flag_due(today=TODAY)["mails"] == 0
    assert set(Customer.objects.values_list("review_reminded_for", flat=True)) == {None}


def test_customers_without_a_review_date_are_not_listed(rm1, customer, mailoutbox):
    due_on(customer, None)
    assert reviews_flag_due(today=TODAY)["mails"] == 0
    assert mailoutbox == []


def test_reminder_is_in_the_rms_language(rm1, rm2, customer, other_customer, mailoutbox):
    User.objects.filter(pk=rm1.pk).update(language="zh-hans")
    due_on(customer, TODAY - DAY)
    due_on(other_customer, TODAY - DAY)
    reviews_flag_due(today=TODAY)
    by_rm = {m.to[0]: m.body for m in mailoutbox}
    assert "复核逾期: 2025-06-01" in by_rm[rm1.email]
    assert "Review overdue" not in by_rm[rm1.email]
    assert "Review overdue: 2025-06-01" in by_rm[rm2.email]  # rm2 has no language set: the site's


def test_a_reminder_that_fails_to_go_out_is_sent_by_the_next_run(rm1, customer, settings, mailoutbox):
    due_on(customer, TODAY)
    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2  # nobody listens
    assert reviews_flag_due(today=TODAY) == {"mails": 0, "customers": 0, "failed": 1}
    assert Customer.objects.get(pk=customer.pk).review_reminded_for is None

    settings.EMAIL_BACKEND = backend
    assert reviews_flag_due(today=TODAY)["mails"] == 1
    assert customer.name in mailoutbox[0].body
