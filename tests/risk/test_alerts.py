import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, Grade, GradeReason
from risk.alerts import KINDS, evaluate
from risk.alerts.evaluation import BATCH_SIZE
from risk.models import (
    Alert,
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertRule,
    AlertSeverity,
    AlertStatus,
    Facility,
)
from risk.selectors import facilities_overdue_more_than
from risk.services import AlertTransitionRefused, alert_acknowledge, alert_resolve
from tests.factories import SCHEDULE, CustomerFactory, FacilityFactory, add_installments, add_repayments

D = Decimal
T0 = datetime.datetime(2025, 6, 1, 2, 0, tzinfo=datetime.UTC)


def rule_for(kind: str, **kwargs) -> AlertRule:
    return AlertRule.objects.create(name=kind, kind=kind, severity=AlertSeverity.CRITICAL, **kwargs)


def graded_as(customer: Customer, tier: str, score: str, breakdown: dict) -> None:
    """What customers.regrade writes on a grade change: the tier moves to previous_tier and a
    Grade row records the new grade."""
    customer.refresh_from_db()
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(
        previous_tier=customer.tier, tier=tier, computed_tier=tier, score=D(score), breakdown=breakdown, graded_at=now
    )
    Grade.objects.create(
        customer=customer,
        tier=tier,
        computed_tier=tier,
        previous_tier=customer.tier,
        score=D(score),
        breakdown=breakdown,
        reason=GradeReason.DATA_CHANGED,
        created_at=now,
    )


def counts() -> tuple[int, int, int]:
    return Alert.objects.count(), AlertEvent.objects.count(), AlertCondition.objects.count()


# --- Tier downgrade --------------------------------------------------------------------------------
@pytest.fixture
def downgrade_rule(db):
    return rule_for(AlertKind.TIER_DOWNGRADE)


def test_it_raises_on_downgrade_from_aa_with_both_grades_observed(customer, downgrade_rule):
    graded_as(customer, "AA", "88.00", {"credit": 30})
    assert evaluate()["raised"] == 0  # first grade: from Unrated, no downgrade

    graded_as(customer, "A", "71.50", {"credit": 12})
    assert evaluate()["raised"] == 1

    alert = Alert.objects.get(customer=customer, rule=downgrade_rule)
    assert alert.status == AlertStatus.OPEN
    assert alert.severity == AlertSeverity.CRITICAL
    assert alert.observed["old_tier"] == "AA" and alert.observed["new_tier"] == "A"
    assert alert.observed["old_score"] == "88.00" and alert.observed["new_score"] == "71.50"
    assert alert.observed["old_breakdown"] == {"credit": 30}
    assert alert.observed["new_breakdown"] == {"credit": 12}
    assert [e.kind for e in alert.events.all()] == [AlertEventKind.OPENED]


def test_it_ignores_downgrade_from_b_tier_rule_default_and_upgrades(customer, downgrade_rule):
    graded_as(customer, "B", "50.00", {})
    graded_as(customer, "A", "70.00", {})  # upgrade
    assert evaluate()["raised"] == 0
    graded_as(customer, "B", "55.00", {})  # A → B: A is in the default from_tiers
    assert evaluate()["raised"] == 1


def test_it_respects_from_tiers(customer):
    rule_for(AlertKind.TIER_DOWNGRADE, params={"from_tiers": ["AA"]})
    graded_as(customer, "A", "70.00", {})
    graded_as(customer, "B", "50.00", {})
    assert evaluate()["raised"] == 0


def test_it_stays_quiet_while_still_downgraded_and_updates_last_seen(customer, downgrade_rule):
    graded_as(customer, "AA", "88.00", {})
    graded_as(customer, "A", "71.00", {})
    with time_machine.travel(T0, tick=False):
        evaluate()
    before = counts()
    with time_machine.travel(T0 + datetime.timedelta(hours=6), tick=False):
        result = evaluate()
    assert result == {"raised": 0, "seen_again": 0, "still_bad": 1, "recovered": 0}
    assert counts() == before
    alert = Alert.objects.get()
    assert alert.opened_at == T0
    assert alert.last_seen_at == T0 + datetime.timedelta(hours=6)


def test_it_raises_again_after_recovery_and_relapse(customer, downgrade_rule, risk_officer):
    graded_as(customer, "AA", "88.00", {})
    graded_as(customer, "A", "71.00", {})
    evaluate()
    alert_resolve(alert=Alert.objects.get(), by=risk_officer, note="Called the CFO; temporary.")

    graded_as(customer, "AA", "86.00", {})
    assert evaluate()["recovered"] == 1
    assert not AlertCondition.objects.get().is_bad

    graded_as(customer, "A", "69.00", {})
    assert evaluate()["raised"] == 1
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["resolved", "open"]
    assert Alert.objects.get(status="open").observed["new_score"] == "69.00"


def test_relapse_while_first_alert_unresolved_updates_it_instead(customer, downgrade_rule):
    graded_as(customer, "AA", "88.00", {})
    graded_as(customer, "A", "71.00", {})
    evaluate()
    graded_as(customer, "AA", "86.00", {})
    evaluate()
    assert Alert.objects.get().status == AlertStatus.OPEN  # recovery does not close it

    graded_as(customer, "A", "69.00", {})
    assert evaluate() == {"raised": 0, "seen_again": 1, "still_bad": 0, "recovered": 0}
    alert = Alert.objects.get()
    assert [e.kind for e in alert.events.all()] == [AlertEventKind.OPENED, AlertEventKind.SEEN_AGAIN]


# --- Payment overdue -------------------------------------------------------------------------------
@pytest.fixture
def overdue_rule(db):
    return rule_for(AlertKind.PAYMENT_OVERDUE)


def test_it_raises_when_a_payment_is_more_than_30_days_overdue(scheduled, overdue_rule):
    assert evaluate(today=datetime.date(2025, 4, 30))["raised"] == 0  # 30 days: not more than 30
    assert evaluate(today=datetime.date(2025, 5, 1))["raised"] == 1

    alert = Alert.objects.get()
    assert alert.customer_id == scheduled.customer_id
    assert alert.observed["amount_overdue"] == "209500.00"  # two installments due by 2025-04-30
    assert alert.observed["days_overdue"] == 31
    assert alert.observed["facilities"] == [str(scheduled.code)]


def test_overdue_stays_quiet_then_raises_after_recovery_and_relapse(scheduled, overdue_rule, risk_officer):
    evaluate(today=datetime.date(2025, 5, 15))
    before = counts()
    assert evaluate(today=datetime.date(2025, 5, 20))["still_bad"] == 1
    assert counts() == before

    alert_resolve(alert=Alert.objects.get(), by=risk_officer, note="Paid on 2025-05-25.")
    add_repayments(scheduled, [(datetime.date(2025, 5, 25), "209500.00")])
    assert evaluate(today=datetime.date(2025, 5, 26))["recovered"] == 1

    # The 2025-05-31 installment goes unpaid: more than 30 days overdue on 2025-07-01.
    assert evaluate(today=datetime.date(2025, 6, 30))["raised"] == 0
    assert evaluate(today=datetime.date(2025, 7, 1))["raised"] == 1
    observed = Alert.objects.filter(status=AlertStatus.OPEN).get().observed
    # 2025-05-31 and 2025-06-30 installments are both unpaid; the older one sets the days.
    assert (observed["amount_overdue"], observed["days_overdue"]) == ("207500.00", 31)


def test_overdue_days_parameter(scheduled):
    rule_for(AlertKind.PAYMENT_OVERDUE, params={"days": 10})
    assert evaluate(today=datetime.date(2025, 4, 10))["raised"] == 0
    assert evaluate(today=datetime.date(2025, 4, 11))["raised"] == 1


def test_overdue_rule_and_the_facility_selector_agree_on_who_is_overdue(rm1):
    """payment_overdue's bad set is computed as totals, risk.selectors by the waterfall: the
    same customers for every day and threshold, to the fen."""
    cases = {
        "nothing paid": [],
        "first installment paid": [(datetime.date(2025, 3, 31), "105000.00")],
        "a fen short": [(datetime.date(2025, 3, 31), "104999.99")],
        "two paid late": [(datetime.date(2025, 5, 10), "209500.00")],
        "paid ahead": [(datetime.date(2025, 2, 1), "500000.00")],
        "paid in pieces": [(datetime.date(2025, 4, 2), "60000.00"), (datetime.date(2025, 4, 20), "45000.01")],
        # Exactly the first installment; as binary floats (SQLite) 105000 minus these is 1.5e-11.
        "paid in odd pieces": [
            (datetime.date(2025, 3, 20), "35000.02"),
            (datetime.date(2025, 3, 25), "35000.14"),
            (datetime.date(2025, 3, 31), "34999.84"),
        ],
    }
    for rows in cases.values():
        facility = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
        add_installments(facility, SCHEDULE)
        add_repayments(facility, rows)
    FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))  # no schedule: never overdue
    kind = KINDS[AlertKind.PAYMENT_OVERDUE]
    seen = set()
    for today in (datetime.date(2025, m, d) for m, d in [(3, 31), (4, 1), (4, 30), (5, 1), (5, 9), (5, 31), (7, 15)]):
        for days in (0, 1, 9, 30, 31):
            by_totals = set(kind.bad(Customer.objects.all(), {"days": days}, today))
            by_waterfall = set(facilities_overdue_more_than(days, today=today).values_list("customer_id", flat=True))
            assert by_totals == by_waterfall, (today, days)
            seen.add(len(by_totals))
    assert len(seen) > 3  # the cases do tell the two apart from "always" and "never"


def test_overdue_rule_tiers_limit_who_is_watched(scheduled, other_customer):
    rule_for(AlertKind.PAYMENT_OVERDUE, tiers=["B"])
    add_installments(FacilityFactory(customer=other_customer), SCHEDULE)
    Customer.objects.filter(pk=other_customer.pk).update(tier="B")
    assert evaluate(today=datetime.date(2025, 6, 1))["raised"] == 1
    assert Alert.objects.get().customer == other_customer


# --- Limit breach ----------------------------------------------------------------------------------
@pytest.fixture
def breach_rule(db):
    return rule_for(AlertKind.LIMIT_BREACH)


def set_limit(customer: Customer, limit: str | None) -> None:
    Customer.objects.filter(pk=customer.pk).update(credit_limit=None if limit is None else D(limit))


def test_it_raises_when_open_facilities_draw_more_than_the_credit_limit(customer, breach_rule):
    FacilityFactory(customer=customer, drawn=D("1000000.00"))
    repaid = FacilityFactory(customer=customer, drawn=D("300000.00"))
    Facility.objects.filter(pk=repaid.pk).update(outstanding=D("0.00"))  # repaid in full: not open
    set_limit(customer, "1000000.00")
    assert evaluate()["raised"] == 0  # equal is not above

    set_limit(customer, "999999.99")
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().observed == {"drawn_total": "1000000.00", "credit_limit": "999999.99"}


def test_customer_without_credit_limit_has_nothing_to_breach(customer, breach_rule):
    FacilityFactory(customer=customer)
    set_limit(customer, None)
    assert evaluate()["raised"] == 0


def test_breach_stays_quiet_then_raises_after_recovery_and_relapse(customer, breach_rule, risk_officer):
    FacilityFactory(customer=customer, drawn=D("1000000.00"))
    set_limit(customer, "800000.00")
    evaluate()
    before = counts()
    assert evaluate() == {"raised": 0, "seen_again": 0, "still_bad": 1, "recovered": 0}
    assert counts() == before

    alert_resolve(alert=Alert.objects.get(), by=risk_officer, note="Limit raised by committee.")
    set_limit(customer, "2000000.00")
    assert evaluate()["recovered"] == 1
    set_limit(customer, "900000.00")
    assert evaluate()["raised"] == 1
    assert Alert.objects.filter(status=AlertStatus.OPEN).get().observed["credit_limit"] == "900000.00"


def test_rule_tiers_limit_who_is_watched(customer, other_customer):
    rule_for(AlertKind.LIMIT_BREACH, tiers=["AA"])
    for c in (customer, other_customer):
        FacilityFactory(customer=c)
        set_limit(c, "1.00")
    Customer.objects.filter(pk=customer.pk).update(tier="AA")
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().customer_id == customer.pk


def test_disabled_rule_and_rule_ids_select_what_is_evaluated(customer, breach_rule):
    FacilityFactory(customer=customer)
    set_limit(customer, "1.00")
    other = rule_for(AlertKind.LIMIT_BREACH, enabled=False)
    assert evaluate(rule_ids=[other.pk])["raised"] == 0
    assert evaluate(rule_ids=[breach_rule.pk])["raised"] == 1


# --- Idempotency and the constraint ---------------------------------------------------------------
def test_running_twice_creates_nothing_new(customer, other_customer, downgrade_rule, breach_rule):
    graded_as(customer, "AA", "88.00", {})
    graded_as(customer, "A", "71.00", {})
    FacilityFactory(customer=other_customer)
    set_limit(other_customer, "1.00")
    assert evaluate()["raised"] == 2
    before = counts()
    assert evaluate()["raised"] == 0
    assert counts() == before


def test_a_rerun_minutes_later_rewrites_no_row_and_the_next_hourly_run_refreshes_last_seen(customer, breach_rule):
    FacilityFactory(customer=customer)
    set_limit(customer, "1.00")
    with time_machine.travel(T0, tick=False):
        evaluate()
    with time_machine.travel(T0 + datetime.timedelta(minutes=5), tick=False):
        assert evaluate()["still_bad"] == 1
    assert Alert.objects.get().last_seen_at == T0

    with time_machine.travel(T0 + datetime.timedelta(hours=1), tick=False):
        assert evaluate()["still_bad"] == 1
    assert Alert.objects.get().last_seen_at == T0 + datetime.timedelta(hours=1)
    # The condition changes only on a transition: still bad since T0, not rewritten hourly.
    assert AlertCondition.objects.get().since == T0


def test_full_batches_of_customers_each_get_one_alert(rm1):
    """More bad customers than one batch holds (the raw inserts bind a parameter or more per
    customer: within both databases' limits)."""
    many = BATCH_SIZE + 7
    Customer.objects.bulk_create(
        Customer(
            name=f"Bulk {i}",
            credit_code=f"BULK{i:014d}",
            industry="energy",
            registered_capital=D("1000000.00"),
            industry_position="major",
            owner=rm1,
            team=rm1.team,
            next_review_date=datetime.date(2025, 5, 1),
        )
        for i in range(many)
    )
    rule_for(AlertKind.REVIEW_OVERDUE)
    assert evaluate(today=datetime.date(2025, 6, 1))["raised"] == many
    assert Alert.objects.values("customer").distinct().count() == many
    assert AlertEvent.objects.filter(kind=AlertEventKind.OPENED).count() == many
    assert Alert.objects.filter(observed__days_overdue=31).count() == many
    assert evaluate(today=datetime.date(2025, 6, 1)) == {
        "raised": 0,
        "seen_again": 0,
        "still_bad": many,
        "recovered": 0,
    }


def test_database_refuses_a_second_unresolved_alert_for_customer_and_rule(customer, breach_rule):
    Alert.objects.create(customer=customer, rule=breach_rule, severity="warning")
    for status in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(customer=customer, rule=breach_rule, severity="warning", status=status)
    # Resolved alerts are history: any number of them may sit beside the open one.
    Alert.objects.create(customer=customer, rule=breach_rule, severity="warning", status=AlertStatus.RESOLVED)
    Alert.objects.create(customer=customer, rule=breach_rule, severity="warning", status=AlertStatus.RESOLVED)


def test_an_unresolved_alert_written_outside_the_evaluation_is_not_duplicated(customer, breach_rule):
    """An open alert with no condition row behind it (written by hand, say): the database
    refuses a second one, and the evaluation notes on the existing alert that it saw the
    condition, instead of failing."""
    existing = Alert.objects.create(customer=customer, rule=breach_rule, severity="warning")
    FacilityFactory(customer=customer)
    set_limit(customer, "1.00")
    assert evaluate() == {"raised": 0, "seen_again": 1, "still_bad": 0, "recovered": 0}
    assert list(Alert.objects.all()) == [existing]
    assert [e.kind for e in existing.events.all()] == [AlertEventKind.SEEN_AGAIN]
    assert AlertCondition.objects.get().is_bad


# --- Lifecycle -------------------------------------------------------------------------------------
@pytest.fixture
def alert(customer, breach_rule):
    FacilityFactory(customer=customer)
    set_limit(customer, "1.00")
    evaluate()
    return Alert.objects.get()


def test_acknowledge_then_resolve_records_who_and_when(alert, rm1, risk_officer):
    alert_acknowledge(alert=alert, by=rm1)
    assert alert.status == AlertStatus.ACKNOWLEDGED
    with pytest.raises(AlertTransitionRefused):
        alert_acknowledge(alert=alert, by=rm1)

    alert_resolve(alert=alert, by=risk_officer, note="  Drawdown reversed.  ")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_note == "Drawdown reversed."
    assert alert.resolved_at is not None
    events = list(alert.events.values_list("kind", "by", "note"))
    assert events == [
        (AlertEventKind.OPENED, None, ""),
        (AlertEventKind.ACKNOWLEDGED, rm1.pk, ""),
        (AlertEventKind.RESOLVED, risk_officer.pk, "Drawdown reversed."),
    ]
    with pytest.raises(AlertTransitionRefused):
        alert_resolve(alert=alert, by=risk_officer, note="again")


def test_resolve_requires_a_note(alert, risk_officer):
    with pytest.raises(AlertTransitionRefused):
        alert_resolve(alert=alert, by=risk_officer, note="   ")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert alert.events.count() == 1


def test_an_open_alert_can_be_resolved_without_acknowledging(alert, risk_officer):
    alert_resolve(alert=alert, by=risk_officer, note="Known; limit increase approved.")
    assert alert.status == AlertStatus.RESOLVED


def test_acknowledging_a_stale_copy_is_refused(alert, rm1, risk_officer):
    stale = Alert.objects.get(pk=alert.pk)
    alert_resolve(alert=alert, by=risk_officer, note="Done.")
    with pytest.raises(AlertTransitionRefused):
        alert_acknowledge(alert=stale, by=rm1)
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.RESOLVED


# --- Rule validation -------------------------------------------------------------------------------
def errors_of(**fields) -> dict:
    rule = AlertRule(name="r", severity="warning", **fields)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    return caught.value.message_dict


def test_clean_accepts_the_implemented_kinds_with_or_without_params(db):
    AlertRule(name="r", kind=AlertKind.TIER_DOWNGRADE, severity="info").full_clean()
    AlertRule(name="r", kind=AlertKind.PAYMENT_OVERDUE, params={"days": 60}, tiers=["B"], severity="info").full_clean()
    AlertRule(name="r", kind=AlertKind.LIMIT_BREACH, severity="info").full_clean()


def test_every_kind_of_rule_can_be_saved_with_its_defaults_and_evaluated(db):
    assert set(KINDS) == set(AlertKind.values)
    for kind in AlertKind.values:
        AlertRule(name="r", kind=kind, severity="info").full_clean()
        rule_for(kind)
    assert evaluate() == {"raised": 0, "seen_again": 0, "still_bad": 0, "recovered": 0}


def test_clean_refuses_a_kind_that_does_not_exist(db):
    errors = errors_of(kind="sunspots")
    assert any("“sunspots” is not a kind of alert rule" in message for message in errors["kind"])


def test_clean_refuses_unknown_and_invalid_params(db):
    assert "Unknown parameters" in errors_of(kind=AlertKind.PAYMENT_OVERDUE, params={"dayz": 3})["params"][0]
    assert "days" in errors_of(kind=AlertKind.PAYMENT_OVERDUE, params={"days": "30"})["params"][0]
    assert "days" in errors_of(kind=AlertKind.PAYMENT_OVERDUE, params={"days": -1})["params"][0]
    assert "from_tiers" in errors_of(kind=AlertKind.TIER_DOWNGRADE, params={"from_tiers": ["B"]})["params"][0]
    assert "Unknown parameters" in errors_of(kind=AlertKind.LIMIT_BREACH, params={"days": 3})["params"][0]
    assert "tiers" in errors_of(kind=AlertKind.LIMIT_BREACH, tiers=["AAA"])


def test_schedule_fixture_matches_the_overdue_figures():
    # The overdue expectations above read the amounts off SCHEDULE.
    assert sum(p + i for _, p, i in SCHEDULE[:2]) == D("209500.00")
    assert sum(p + i for _, p, i in SCHEDULE[2:]) == D("207500.00")
