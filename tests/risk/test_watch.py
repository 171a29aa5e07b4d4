"""The watch list and facility limits that follow the credit limit (risk.services.watch)."""

import datetime
from decimal import Decimal

import time_machine

from customers.access import customers_for
from customers.models import Customer
from customers.services import customer_reviewed
from risk.dashboard import watch_list
from risk.models import Alert, AlertKind, AlertRule, AlertSeverity, AlertStatus, Facility
from risk.services import facility_limits_follow, watch_refresh
from tests.factories import CustomerFactory, FacilityFactory

D = Decimal
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
LAST_REVIEW = datetime.date(2025, 1, 10)
# Tier A (shipped policy): review every 180 days, monitoring every 60.
SCHEDULED = LAST_REVIEW + datetime.timedelta(days=180)  # 2025-07-09


def local(y, m, d, hour=10) -> datetime.datetime:
    return datetime.datetime(y, m, d, hour, tzinfo=SHANGHAI)


def reviewed(customer: Customer, *, tier: str = "A", last: datetime.date = LAST_REVIEW, next_review=None):
    """The customer as customers.regrade leaves it: tier, last review, next review scheduled."""
    Customer.objects.filter(pk=customer.pk).update(
        tier=tier, last_review_date=last, next_review_date=next_review or SCHEDULED, watch_review_by=None
    )


def raise_alert(customer, *, severity=AlertSeverity.WARNING, opened_at=None, status=AlertStatus.OPEN) -> Alert:
    """An alert as evaluation raises it (one rule each, so several may stand for one customer)."""
    rule = AlertRule.objects.create(name=f"rule {AlertRule.objects.count()}", kind=AlertKind.LIMIT_BREACH)
    opened_at = opened_at or local(2025, 3, 1)
    return Alert.objects.create(
        customer=customer, rule=rule, severity=severity, status=status, opened_at=opened_at, last_seen_at=opened_at
    )


def dates(customer: Customer) -> tuple:
    return Customer.objects.values_list("watch_review_by", "next_review_date").get(pk=customer.pk)


# --- Watch list ------------------------------------------------------------------------------------
def test_open_warning_alert_puts_customer_on_watch_list_and_pulls_review_forward(customer):
    reviewed(customer)
    raise_alert(customer, opened_at=local(2025, 3, 1))
    assert watch_refresh(today=datetime.date(2025, 3, 2)) == {"written": 1, "on_watch": 1, "overdue": 0}
    # Opened 2025-03-01 + tier A's 60-day monitoring interval; sooner than the 2025-07-09 review.
    assert dates(customer) == (datetime.date(2025, 4, 30), datetime.date(2025, 4, 30))


def test_watch_date_counts_from_the_local_day_the_alert_opened(customer):
    reviewed(customer)
    # 17:30 UTC on 28 February is 01:30 on 1 March in Shanghai.
    raise_alert(customer, opened_at=datetime.datetime(2025, 2, 28, 17, 30, tzinfo=datetime.UTC))
    watch_refresh()
    assert dates(customer)[0] == datetime.date(2025, 4, 30)


def test_monitoring_interval_is_the_customers_tier_policys(customer, other_customer):
    reviewed(customer, tier="AA", next_review=datetime.date(2026, 1, 10))  # AA: monitoring every 90 days
    reviewed(other_customer, tier="B", next_review=datetime.date(2025, 4, 10))  # B: every 30 days
    raise_alert(customer)
    raise_alert(other_customer)
    watch_refresh()
    assert dates(customer) == (datetime.date(2025, 5, 30), datetime.date(2025, 5, 30))
    assert dates(other_customer) == (datetime.date(2025, 3, 31), datetime.date(2025, 3, 31))


def test_critical_acknowledged_alert_keeps_customer_on_watch_list(customer):
    reviewed(customer)
    raise_alert(customer, severity=AlertSeverity.CRITICAL, status=AlertStatus.ACKNOWLEDGED)
    watch_refresh()
    assert dates(customer)[0] == datetime.date(2025, 4, 30)


def test_info_alert_does_not_put_customer_on_watch_list(customer):
    reviewed(customer)
    raise_alert(customer, severity=AlertSeverity.INFO)
    assert watch_refresh()["written"] == 0
    assert dates(customer) == (None, SCHEDULED)


def test_earliest_of_several_alerts_sets_the_watch_date(customer):
    reviewed(customer)
    raise_alert(customer, opened_at=local(2025, 3, 20))
    raise_alert(customer, opened_at=local(2025, 3, 5))
    watch_refresh()
    assert dates(customer)[0] == datetime.date(2025, 5, 4)


def test_review_due_sooner_than_the_watch_date_stays_sooner(customer):
    reviewed(customer, last=datetime.date(2024, 10, 1), next_review=datetime.date(2025, 3, 30))
    raise_alert(customer)
    watch_refresh()
    assert dates(customer) == (datetime.date(2025, 4, 30), datetime.date(2025, 3, 30))


def test_resolving_the_alert_takes_customer_off_and_restores_the_review_date(customer):
    reviewed(customer)
    alert = raise_alert(customer)
    watch_refresh()
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    assert watch_refresh() == {"written": 1, "on_watch": 0, "overdue": 0}
    assert dates(customer) == (None, SCHEDULED)


def test_resolving_the_earliest_alert_moves_the_watch_date_to_the_next(customer):
    reviewed(customer)
    first = raise_alert(customer, opened_at=local(2025, 3, 1))
    raise_alert(customer, opened_at=local(2025, 3, 15))
    watch_refresh()
    Alert.objects.filter(pk=first.pk).update(status=AlertStatus.RESOLVED)
    watch_refresh()
    assert dates(customer) == (datetime.date(2025, 5, 14), datetime.date(2025, 5, 14))


def test_a_review_since_the_alert_takes_customer_off_the_watch_list(customer):
    reviewed(customer)
    raise_alert(customer, opened_at=local(2025, 3, 1))
    watch_refresh()
    # The review on 3 March (customers.services.scoring.customer_reviewed, then regrade).
    reviewed(customer, last=datetime.date(2025, 3, 3), next_review=datetime.date(2025, 8, 30))
    Customer.objects.filter(pk=customer.pk).update(watch_review_by=datetime.date(2025, 4, 30))
    watch_refresh()
    assert dates(customer) == (None, datetime.date(2025, 8, 30))


def test_an_alert_opened_on_the_review_day_still_counts(customer):
    reviewed(customer, last=datetime.date(2025, 3, 1), next_review=datetime.date(2025, 8, 28))
    raise_alert(customer, opened_at=local(2025, 3, 1, hour=16))
    watch_refresh()
    assert dates(customer)[0] == datetime.date(2025, 4, 30)


def test_a_second_run_writes_nothing(customer, other_customer):
    reviewed(customer)
    reviewed(other_customer)
    raise_alert(customer)
    alert = raise_alert(other_customer)
    watch_refresh()
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    assert watch_refresh()["written"] == 1
    before = list(Customer.objects.order_by("pk").values_list("watch_review_by", "next_review_date"))
    assert watch_refresh(today=datetime.date(2025, 5, 1)) == {"written": 0, "on_watch": 1, "overdue": 1}
    assert list(Customer.objects.order_by("pk").values_list("watch_review_by", "next_review_date")) == before


def test_customers_never_on_the_watch_list_are_left_alone(customer):
    # An info alert does not call for a review, and a next review date other than the policy's
    # (set by hand, or by a re-grade not yet run) is re-grading's business, not the watch list's.
    reviewed(customer, next_review=datetime.date(2025, 12, 31))
    raise_alert(customer, severity=AlertSeverity.INFO)
    assert watch_refresh()["written"] == 0
    assert dates(customer) == (None, datetime.date(2025, 12, 31))


def test_a_review_takes_the_customer_off_the_watch_list_at_once(customer, rm1):
    reviewed(customer)
    raise_alert(customer, opened_at=local(2025, 3, 1))
    watch_refresh(today=datetime.date(2025, 3, 2))
    assert dates(customer)[0] == datetime.date(2025, 4, 30)
    with time_machine.travel(local(2025, 6, 10), tick=False):
        customer_reviewed(customer=customer, by=rm1)
    # Not the passed watch date (an overdue review right after the review): a fresh schedule.
    watch, next_review = dates(customer)
    assert watch is None
    assert next_review > datetime.date(2025, 6, 10)


def test_watch_list_shows_the_users_customers_soonest_first(rm1, rm2, customer, other_customer):
    later = CustomerFactory(owner=rm1, team=rm1.team, name="后来的公司")
    for c in (customer, other_customer, later):
        reviewed(c)
    raise_alert(later, opened_at=local(2025, 3, 10))
    raise_alert(customer, opened_at=local(2025, 3, 1))
    raise_alert(other_customer, opened_at=local(2025, 2, 1))
    watch_refresh()
    assert watch_list(customers_for(rm1)).customers == [customer, later]
    assert watch_list(customers_for(rm2)).customers == [other_customer]


# --- Facility limits -------------------------------------------------------------------------------
def set_credit_limit(customer, amount):
    Customer.objects.filter(pk=customer.pk).update(credit_limit=None if amount is None else D(amount))


def limit_of(facility) -> Decimal:
    return Facility.objects.values_list("limit", flat=True).get(pk=facility.pk)


def test_a_downgrade_lowers_the_facility_limit_and_an_upgrade_gives_it_back(customer):
    facility = FacilityFactory(customer=customer, granted_limit=D("1200000.00"), limit=D("1200000.00"))
    set_credit_limit(customer, "800000.50")
    assert facility_limits_follow() == {"written": 1}
    assert limit_of(facility) == D("800000.50")
    set_credit_limit(customer, "5000000.00")
    facility_limits_follow()
    assert limit_of(facility) == D("1200000.00")  # never above what was granted


def test_customer_without_credit_limit_keeps_the_granted_limit(customer):
    facility = FacilityFactory(customer=customer, granted_limit=D("1200000.00"), limit=D("700000.00"))
    set_credit_limit(customer, None)
    facility_limits_follow()
    assert limit_of(facility) == D("1200000.00")


def test_only_facilities_whose_limit_differs_are_written(customer, other_customer):
    lowered = FacilityFactory(customer=customer, granted_limit=D("1200000.00"), limit=D("1200000.00"))
    kept = FacilityFactory(customer=other_customer, granted_limit=D("1200000.00"), limit=D("1200000.00"))
    set_credit_limit(customer, "600000.00")
    set_credit_limit(other_customer, "3000000.00")
    assert facility_limits_follow(batch_size=1) == {"written": 1}
    assert (limit_of(lowered), limit_of(kept)) == (D("600000.00"), D("1200000.00"))
    assert facility_limits_follow() == {"written": 0}
