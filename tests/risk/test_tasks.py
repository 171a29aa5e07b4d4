"""The risk app's periodic tasks: called directly, under their job locks, and once through a real
worker on the real broker."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from crm.models import Job, JobStatus
from customers.models import Customer
from risk import tasks
from risk.models import Alert, AlertDigest, AlertKind, AlertRule, AlertSeverity, Facility
from tests.conftest import lease_held, wait_for
from tests.factories import FacilityFactory

D = Decimal
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
NOW = datetime.datetime(2025, 6, 3, 7, 30, tzinfo=SHANGHAI)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def breach_rule(**fields) -> AlertRule:
    return AlertRule.objects.create(
        name="Credit limit breached", kind=AlertKind.LIMIT_BREACH, severity=AlertSeverity.CRITICAL, **fields
    )


def downgraded(customer, facility_drawn: str = "1000000.00") -> Facility:
    """A customer drawing 1,000,000 on a 1,200,000 facility whose credit limit a downgrade cut
    to 800,000 (what customers.regrade writes)."""
    facility = FacilityFactory(
        customer=customer, drawn=D(facility_drawn), granted_limit=D("1200000.00"), limit=D("1200000.00")
    )
    Customer.objects.filter(pk=customer.pk).update(credit_limit=D("800000.00"))
    return facility


def test_alerts_evaluate_in_batches_raises_each_customer_once(clock, customer, other_customer, settings):
    settings.ALERTS_BATCH_SIZE = 1  # one customer per batch job
    breach_rule()
    downgraded(customer)
    downgraded(other_customer)
    assert tasks.alerts_evaluate()["batches"] == other_customer.pk - customer.pk + 1
    batches = Job.objects.get(task="risk.tasks.alerts_evaluate").batches.order_by("pk")
    assert [b.result["raised"] for b in batches] == [1, *[0] * (len(batches) - 2), 1]
    assert sorted(Alert.objects.values_list("customer_id", flat=True)) == [customer.pk, other_customer.pk]
    tasks.alerts_evaluate()  # again: nothing new, in any batch
    assert Alert.objects.count() == 2


def test_alerts_evaluate_lowers_limits_raises_the_breach_and_watches_the_customer(clock, customer):
    breach_rule()
    facility = downgraded(customer)
    result = tasks.alerts_evaluate()
    assert result == {"limits": {"written": 1}, "batches": 1}
    # The rules ran as a batch job, the watch list as the job that follows the last batch.
    run = Job.objects.get(task="risk.tasks.alerts_evaluate")
    assert run.status == JobStatus.DONE and run.batches.get().result["raised"] == 1
    watched = Job.objects.get(task="risk.tasks.watch_refresh").result
    # "analyzed": the tables whose statistics it renewed (crm.sql.analyze_stale; tests/crm/test_sql_analyze.py).
    assert {key: watched[key] for key in ("written", "on_watch", "overdue")} == {
        "written": 1,
        "on_watch": 1,
        "overdue": 0,
    }
    assert Facility.objects.get(pk=facility.pk).limit == D("800000.00")
    alert = Alert.objects.get(customer=customer)
    assert alert.severity == AlertSeverity.CRITICAL
    # Opened today; the customer is unrated (monitoring every 30 days).
    assert Customer.objects.get(pk=customer.pk).watch_review_by == NOW.date() + datetime.timedelta(days=30)

    again = tasks.alerts_evaluate()
    assert again["limits"] == {"written": 0}
    assert Job.objects.filter(task="risk.tasks.watch_refresh").first().result["written"] == 0
    assert Alert.objects.count() == 1


def test_alerts_escalate_escalates_and_reports(clock, customer, manager):
    alert = Alert.objects.create(customer=customer, rule=breach_rule(escalate_after_hours=24), severity="critical")
    clock.shift(25 * HOUR)
    assert tasks.alerts_escalate() == {"escalated": 1, "without_manager": 0}
    assert Alert.objects.get(pk=alert.pk).escalated_to == manager
    assert tasks.alerts_escalate() == {"escalated": 0, "without_manager": 0}


def test_reviews_flag_due_reminds_and_reports(clock, customer, mailoutbox):
    Customer.objects.filter(pk=customer.pk).update(next_review_date=NOW.date())
    assert tasks.reviews_flag_due() == {"mails": 1, "customers": 1, "failed": 0}
    assert tasks.reviews_flag_due() == {"mails": 0, "customers": 0, "failed": 0}
    assert len(mailoutbox) == 1


def test_digest_send_sends_and_reports(clock, customer, manager, mailoutbox):
    Alert.objects.create(customer=customer, rule=breach_rule(), severity="critical", opened_at=NOW - HOUR)
    assert tasks.digest_send() == {"sent": 1, "empty": 0, "already": 0, "failed": 0}
    assert tasks.digest_send() == {"sent": 0, "empty": 0, "already": 1, "failed": 0}
    assert mailoutbox[0].to == [manager.email]


@pytest.mark.parametrize("name", ["alerts_evaluate", "alerts_escalate", "reviews_flag_due", "digest_send"])
def test_a_task_skips_while_another_run_holds_its_lock(clock, customer, manager, mailoutbox, name):
    breach_rule(escalate_after_hours=1)
    downgraded(customer)
    Customer.objects.filter(pk=customer.pk).update(next_review_date=NOW.date())
    Alert.objects.create(customer=customer, rule=breach_rule(), severity="critical", opened_at=NOW - 2 * HOUR)
    before = (Alert.objects.count(), Facility.objects.values_list("limit", flat=True).get())
    with lease_held(name):
        assert getattr(tasks, name)() == {"skipped": True}
    assert (Alert.objects.count(), Facility.objects.values_list("limit", flat=True).get()) == before
    assert not Alert.objects.filter(escalated_at__isnull=False).exists()
    assert mailoutbox == [] and not AlertDigest.objects.exists()
    # Once the holder is done, the next run does the work.
    assert "skipped" not in getattr(tasks, name)()


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_alerts_evaluate_raises_the_alert_through_a_real_worker(celery_worker, customer):
    breach_rule()
    facility = downgraded(customer)
    tasks.alerts_evaluate.delay()
    assert wait_for(lambda: Alert.objects.filter(customer=customer).exists(), seconds=20), "no alert from the worker"
    assert Facility.objects.get(pk=facility.pk).limit == D("800000.00")
    expected = timezone.localdate() + datetime.timedelta(days=30)  # unrated: monitoring every 30 days
    assert wait_for(lambda: Customer.objects.get(pk=customer.pk).watch_review_by == expected, seconds=10)
