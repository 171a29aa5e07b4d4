"""The six kinds beyond tier downgrade, payment overdue and limit breach: score drop, bureau
downgrade, debt ratio, review overdue, stale deal, stale scorecard inputs.

Every kind goes through the same life (``SCENARIOS``, one per kind): quiet while good, one alert
on the change into the bad state, quiet while it stays bad, a new alert after recovery and
relapse, and only for the tiers its rule names. Then each kind's parameter, observation and
validation on its own."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.choices import Tier
from customers.models import Customer, Grade, GradeReason, TierPolicy
from customers.services import source_add
from funnel.models import Deal, Stage
from risk.alerts import evaluate
from risk.alerts.portfolio_kinds import STALE_DEALS_LISTED
from risk.models import Alert, AlertCondition, AlertEvent, AlertEventKind, AlertKind, AlertRule, AlertStatus
from risk.services import alert_resolve
from tests.factories import DealFactory

D = Decimal
DAY = datetime.timedelta(days=1)
T0 = datetime.datetime(2025, 6, 1, 2, 0, tzinfo=datetime.UTC)  # 10:00 in Shanghai
TODAY = datetime.date(2025, 6, 1)


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Every test starts at T0; ``clock.move_to`` moves on."""
    time_machine.move_to(T0, tick=False)
    return time_machine


def rule_for(kind: str, **kwargs) -> AlertRule:
    return AlertRule.objects.create(name=kind, kind=kind, **kwargs)


def counts() -> tuple[int, int, int]:
    return Alert.objects.count(), AlertEvent.objects.count(), AlertCondition.objects.count()


def open_alert() -> Alert:
    return Alert.objects.get(status=AlertStatus.OPEN)


def set_fields(customer: Customer, **fields) -> None:
    Customer.objects.filter(pk=customer.pk).update(**fields)


# --- How each kind's state is changed --------------------------------------------------------------
def regraded(customer: Customer, tier: str, score: str, breakdown: dict | None = None) -> None:
    """What customers.regrade writes on a grade change: the old tier and score move to
    previous_tier and previous_score, and a Grade row records the new grade."""
    customer.refresh_from_db()
    breakdown = breakdown or {}
    now = timezone.now()
    set_fields(
        customer,
        previous_tier=customer.tier,
        previous_score=customer.score,
        tier=tier,
        computed_tier=tier,
        score=D(score),
        breakdown=breakdown,
        graded_at=now,
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


REPORT_DAYS = iter(range(10_000))  # each report a day newer than the one before


def credit_report(customer: Customer, rating: str, as_of: datetime.date | None = None) -> None:
    """Through the intake, which keeps bureau_rating and previous_bureau_rating."""
    as_of = as_of or datetime.date(2024, 1, 1) + next(REPORT_DAYS) * DAY
    source_add(
        "credit_report",
        customer=customer,
        by=customer.owner,
        as_of=as_of,
        rating=rating,
        outstanding_debt=D("500000000"),
    )


def financial_statement(customer: Customer, *, liabilities: str, assets: str = "2000000000", **fields) -> None:
    """Through the intake, which computes debt_ratio = liabilities / assets."""
    values = {
        "as_of": datetime.date(2024, 12, 31),
        "revenue": D("800000000"),
        "net_profit": D("60000000"),
        "total_assets": D(assets),
        "total_liabilities": D(liabilities),
        "current_assets": D("600000000"),
        "current_liabilities": D("400000000"),
    }
    source_add("financial_statement", customer=customer, by=customer.owner, **{**values, **fields})


def stale_deal(customer: Customer, *, since: datetime.datetime, stage: str = Stage.PRELIMINARY, **kwargs) -> Deal:
    """A deal funnel.tasks.deals_flag_stale flagged at ``since``."""
    deal = DealFactory(customer=customer, stage=stage, **kwargs)
    Deal.objects.filter(pk=deal.pk).update(stale_since=since)
    return deal


@dataclass(frozen=True)
class Scenario:
    kind: str
    start: Callable[[Customer], None]  # a good state, with the history a change needs
    bad: Callable[[Customer], None]
    good: Callable[[Customer], None]
    relapse: Callable[[Customer], None]  # bad again, differently

    def __str__(self) -> str:
        return self.kind


SCENARIOS = [
    Scenario(
        AlertKind.SCORE_DROP,
        start=lambda c: regraded(c, "AA", "85.00"),
        bad=lambda c: regraded(c, "A", "74.50"),  # 10.50 points down
        good=lambda c: regraded(c, "AA", "84.00"),
        relapse=lambda c: regraded(c, "A", "70.00"),
    ),
    Scenario(
        AlertKind.BUREAU_DOWNGRADE,
        start=lambda c: credit_report(c, "AA"),
        bad=lambda c: credit_report(c, "A"),
        good=lambda c: credit_report(c, "AA"),
        relapse=lambda c: credit_report(c, "BBB"),
    ),
    Scenario(
        AlertKind.DEBT_RATIO_HIGH,
        start=lambda c: set_fields(c, debt_ratio=D("0.5500")),
        bad=lambda c: set_fields(c, debt_ratio=D("0.7100")),
        good=lambda c: set_fields(c, debt_ratio=D("0.6000")),
        relapse=lambda c: set_fields(c, debt_ratio=D("0.9000")),
    ),
    Scenario(
        AlertKind.REVIEW_OVERDUE,
        start=lambda c: set_fields(c, next_review_date=TODAY),
        bad=lambda c: set_fields(c, next_review_date=TODAY - DAY),
        good=lambda c: set_fields(c, last_review_date=TODAY, next_review_date=TODAY + 180 * DAY),
        relapse=lambda c: set_fields(c, next_review_date=TODAY - 2 * DAY),
    ),
    Scenario(
        AlertKind.DEAL_STALE,
        start=lambda c: DealFactory(customer=c, stage=Stage.PRELIMINARY),
        bad=lambda c: Deal.objects.filter(customer=c).update(stale_since=T0 - DAY),
        good=lambda c: Deal.objects.filter(customer=c).update(stale_since=None),  # moved on
        relapse=lambda c: Deal.objects.filter(customer=c).update(stale_since=T0),
    ),
    Scenario(
        AlertKind.INPUTS_STALE,
        start=lambda c: set_fields(c, tier="A", credit_report_date=TODAY - 365 * DAY, statement_date=TODAY),
        bad=lambda c: set_fields(c, credit_report_date=TODAY - 366 * DAY),
        good=lambda c: set_fields(c, credit_report_date=TODAY - 10 * DAY),
        relapse=lambda c: set_fields(c, statement_date=TODAY - 400 * DAY),
    ),
]
each_kind = pytest.mark.parametrize("scenario", SCENARIOS, ids=str)


# --- The life every kind shares --------------------------------------------------------------------
@each_kind
def test_it_fires_once_on_the_change_into_the_bad_state(scenario, customer):
    rule = rule_for(scenario.kind)
    scenario.start(customer)
    assert evaluate()["raised"] == 0

    scenario.bad(customer)
    assert evaluate() == {"raised": 1, "seen_again": 0, "still_bad": 0, "recovered": 0}
    alert = Alert.objects.get()
    assert (alert.customer, alert.rule, alert.status) == (customer, rule, AlertStatus.OPEN)
    assert alert.observed  # what the alert page shows: each kind's own test checks the values
    assert [e.kind for e in alert.events.all()] == [AlertEventKind.OPENED]


@each_kind
def test_it_stays_quiet_while_unchanged_and_updates_last_seen(scenario, customer, clock):
    rule_for(scenario.kind)
    scenario.start(customer)
    scenario.bad(customer)
    evaluate()
    before = counts()

    clock.move_to(T0 + datetime.timedelta(hours=6), tick=False)
    assert evaluate() == {"raised": 0, "seen_again": 0, "still_bad": 1, "recovered": 0}
    assert counts() == before
    alert = Alert.objects.get()
    assert alert.opened_at == T0
    assert alert.last_seen_at == T0 + datetime.timedelta(hours=6)


@each_kind
def test_it_fires_again_after_recovery_and_relapse(scenario, customer, risk_officer):
    rule_for(scenario.kind)
    scenario.start(customer)
    scenario.bad(customer)
    evaluate()
    alert_resolve(alert=Alert.objects.get(), by=risk_officer, note="Spoke to the CFO.")

    scenario.good(customer)
    assert evaluate()["recovered"] == 1
    assert not AlertCondition.objects.get().is_bad
    assert evaluate()["raised"] == 0

    scenario.relapse(customer)
    assert evaluate()["raised"] == 1
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == ["resolved", "open"]


@each_kind
def test_rule_tiers_select_who_is_watched(scenario, customer):
    scenario.start(customer)
    scenario.bad(customer)
    tier = Customer.objects.get(pk=customer.pk).tier
    elsewhere = rule_for(scenario.kind, tiers=[t for t in Tier.values if t != tier])
    assert evaluate()["raised"] == 0
    here = rule_for(scenario.kind, tiers=[tier])
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().rule == here
    assert not AlertCondition.objects.filter(rule=elsewhere).exists()


# --- Score drop ------------------------------------------------------------------------------------
def test_score_drop_observes_both_grades(customer):
    rule_for(AlertKind.SCORE_DROP)
    regraded(customer, "AA", "85.00", {"credit": 30, "qualification": 25})
    regraded(customer, "A", "74.50", {"credit": 18, "qualification": 25})
    evaluate()
    observed = Alert.objects.get().observed
    assert (observed["old_score"], observed["new_score"], observed["drop"]) == ("85.00", "74.50", "10.50")
    assert (observed["old_tier"], observed["new_tier"]) == ("AA", "A")
    assert observed["old_breakdown"] == {"credit": 30, "qualification": 25}
    assert observed["new_breakdown"] == {"credit": 18, "qualification": 25}
    assert observed["points"] == "10"


def test_score_drop_counts_a_drop_of_exactly_points_and_not_less(customer, other_customer):
    rule_for(AlertKind.SCORE_DROP, params={"points": 15})
    regraded(customer, "AA", "75.02")
    regraded(customer, "A", "60.02")  # exactly 15.00 (SQLite's binary floats say 14.999999999999993)
    regraded(other_customer, "AA", "75.02")
    regraded(other_customer, "A", "60.03")  # 14.99
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().customer == customer


def test_score_drop_ignores_a_first_grade_and_a_rise(customer, other_customer):
    rule_for(AlertKind.SCORE_DROP, params={"points": "0.5"})
    regraded(customer, "B", "40.00")  # from Unrated: no previous score
    regraded(other_customer, "B", "40.00")
    regraded(other_customer, "A", "62.00")
    assert evaluate()["raised"] == 0


def test_score_drop_through_the_real_regrade(customer, rm1):
    """previous_score as customers.regrade keeps it: a worse credit report costs the points."""
    rule_for(AlertKind.SCORE_DROP, params={"points": 5})
    source_add(
        "cooperation_record",
        customer=customer,
        by=rm1,
        as_of=datetime.date(2015, 1, 1),
        kind="loan",
        description="Loan",
    )
    source_add(
        "funding_need",
        customer=customer,
        by=rm1,
        as_of=TODAY - 40 * DAY,
        project_amount=D("300000000"),
        purpose="Offshore wind farm",
        term_months=120,
    )
    financial_statement(customer, liabilities="1000000000", as_of=TODAY - 30 * DAY)
    credit_report(customer, "AAA", as_of=TODAY - 20 * DAY)
    before = Customer.objects.get(pk=customer.pk)
    assert before.score is not None
    assert evaluate()["raised"] == 0

    credit_report(customer, "CCC", as_of=TODAY - DAY)
    after = Customer.objects.get(pk=customer.pk)
    assert after.previous_score == before.score and before.score - after.score >= 5
    assert evaluate()["raised"] == 1
    observed = Alert.objects.get().observed
    assert (observed["old_score"], observed["new_score"]) == (str(before.score), str(after.score))


# --- Bureau downgrade ------------------------------------------------------------------------------
def test_bureau_downgrade_observes_both_ratings_and_the_report_date(customer):
    rule_for(AlertKind.BUREAU_DOWNGRADE)
    credit_report(customer, "AA", as_of=datetime.date(2024, 11, 30))
    assert evaluate()["raised"] == 0  # one report: nothing to compare with
    credit_report(customer, "BBB", as_of=datetime.date(2025, 5, 20))
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().observed == {
        "old_rating": "AA",
        "new_rating": "BBB",
        "notches": 2,
        "credit_report_date": "2025-05-20",
    }


def test_bureau_downgrade_needs_the_notches_it_is_given(customer, other_customer):
    rule_for(AlertKind.BUREAU_DOWNGRADE, params={"notches": 2})
    credit_report(customer, "AA")
    credit_report(customer, "A")  # one notch
    credit_report(other_customer, "A")
    credit_report(other_customer, "BB")  # A → BBB → BB: two notches
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().customer == other_customer


def test_bureau_downgrade_ignores_upgrades_and_an_unchanged_rating(customer, other_customer):
    rule_for(AlertKind.BUREAU_DOWNGRADE)
    credit_report(customer, "D")
    credit_report(customer, "C")
    credit_report(other_customer, "BB")
    credit_report(other_customer, "BB")
    assert evaluate()["raised"] == 0


# --- Debt ratio ------------------------------------------------------------------------------------
def test_debt_ratio_fires_above_the_threshold_from_the_latest_statement(customer):
    rule_for(AlertKind.DEBT_RATIO_HIGH)
    financial_statement(customer, liabilities="1400000000", as_of=datetime.date(2024, 12, 31))  # 0.70
    assert evaluate()["raised"] == 0  # at the threshold is not above it
    financial_statement(customer, liabilities="1500000000", as_of=datetime.date(2025, 3, 31))  # 0.75
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().observed == {"debt_ratio": "0.7500", "above": "0.70", "statement_date": "2025-03-31"}


@pytest.mark.parametrize("above", ["0.80", 0.8], ids=["string", "number"])
def test_debt_ratio_threshold_is_a_number_or_numeric_string(customer, other_customer, above):
    rule_for(AlertKind.DEBT_RATIO_HIGH, params={"above": above})
    set_fields(customer, debt_ratio=D("0.8000"))
    set_fields(other_customer, debt_ratio=D("0.8001"))
    assert evaluate()["raised"] == 1
    assert open_alert().customer == other_customer
    assert D(open_alert().observed["above"]) == D("0.8")


def test_debt_ratio_without_a_statement_is_not_high(customer):
    rule_for(AlertKind.DEBT_RATIO_HIGH, params={"above": "0.01"})
    assert Customer.objects.get(pk=customer.pk).debt_ratio is None
    assert evaluate()["raised"] == 0


# --- Review overdue --------------------------------------------------------------------------------
def test_review_overdue_observes_the_date_and_days_overdue(customer):
    rule_for(AlertKind.REVIEW_OVERDUE)
    set_fields(customer, last_review_date=datetime.date(2024, 11, 20), next_review_date=TODAY)
    assert evaluate()["raised"] == 0  # due today is not overdue
    set_fields(customer, next_review_date=datetime.date(2025, 5, 20))
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().observed == {
        "next_review_date": "2025-05-20",
        "last_review_date": "2024-11-20",
        "days_overdue": 12,
        "as_of": "2025-06-01",
    }


def test_review_overdue_allows_the_days_it_is_given(customer, clock):
    rule_for(AlertKind.REVIEW_OVERDUE, params={"days": 7})
    set_fields(customer, next_review_date=TODAY - 7 * DAY)
    assert evaluate()["raised"] == 0
    clock.move_to(T0 + DAY, tick=False)
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().observed["days_overdue"] == 8


def test_review_overdue_evaluated_for_another_day(customer):
    rule_for(AlertKind.REVIEW_OVERDUE)
    set_fields(customer, next_review_date=TODAY + 2 * DAY)
    assert evaluate(today=TODAY + 3 * DAY)["raised"] == 1


def test_a_customer_without_a_review_date_is_not_overdue(customer):
    rule_for(AlertKind.REVIEW_OVERDUE)
    set_fields(customer, next_review_date=None)
    assert evaluate()["raised"] == 0


# --- Deal stale ------------------------------------------------------------------------------------
def test_deal_stale_lists_the_stuck_open_deals(customer):
    rule_for(AlertKind.DEAL_STALE)
    older = stale_deal(customer, since=T0 - 3 * DAY, stage=Stage.DUE_DILIGENCE, title="海上风电一期")
    newer = stale_deal(customer, since=T0 - DAY, title="海上风电二期")
    stale_deal(customer, since=T0 - 9 * DAY, stage=Stage.FUNDED)  # closed: not stuck
    stale_deal(customer, since=T0 - 9 * DAY, stage=Stage.LOST, lost_reason="competitor")
    DealFactory(customer=customer, stage=Stage.PROSPECT)  # not flagged
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().observed == {
        "deals": [
            {
                "code": str(older.code),
                "title": "海上风电一期",
                "stage": "due_diligence",
                "since": "2025-05-29T02:00:00+00:00",
            },
            {
                "code": str(newer.code),
                "title": "海上风电二期",
                "stage": "preliminary",
                "since": "2025-05-31T02:00:00+00:00",
            },
        ],
        "deals_total": 2,
    }


def test_deal_stale_caps_the_list_and_counts_them_all(customer):
    rule_for(AlertKind.DEAL_STALE)
    deals = [stale_deal(customer, since=T0 - (i + 1) * DAY) for i in range(STALE_DEALS_LISTED + 2)]
    evaluate()
    observed = Alert.objects.get().observed
    assert observed["deals_total"] == STALE_DEALS_LISTED + 2
    # The longest stuck first; the two flagged most recently are left out.
    assert [d["code"] for d in observed["deals"]] == [str(d.code) for d in reversed(deals)][:STALE_DEALS_LISTED]


def test_deal_stale_waits_the_days_it_is_given(customer, clock):
    rule_for(AlertKind.DEAL_STALE, params={"days": 3})
    stale_deal(customer, since=T0 - 2 * DAY)
    assert evaluate()["raised"] == 0
    clock.move_to(T0 + DAY - datetime.timedelta(minutes=1), tick=False)
    assert evaluate()["raised"] == 0  # 2 days 23:59 flagged
    clock.move_to(T0 + DAY, tick=False)
    assert evaluate()["raised"] == 1


def test_deal_stale_evaluated_for_an_earlier_day_ignores_later_flags(customer):
    rule_for(AlertKind.DEAL_STALE)
    stale_deal(customer, since=T0 - DAY)  # flagged on 2025-05-31
    assert evaluate(today=TODAY - 2 * DAY)["raised"] == 0  # as of the end of 2025-05-30
    assert evaluate(today=TODAY - DAY)["raised"] == 1


def test_a_deal_that_moves_on_ends_the_stale_state(customer):
    rule_for(AlertKind.DEAL_STALE)
    deal = stale_deal(customer, since=T0 - DAY)
    evaluate()
    # funnel.services.deal_move clears the flag on every move.
    Deal.objects.filter(pk=deal.pk).update(stage=Stage.DUE_DILIGENCE, stale_since=None)
    assert evaluate()["recovered"] == 1


# --- Inputs stale ----------------------------------------------------------------------------------
def test_inputs_stale_uses_each_tiers_policy_by_default(customer, other_customer):
    rule_for(AlertKind.INPUTS_STALE)
    TierPolicy.objects.filter(tier="AA").update(max_data_age_days=90)
    hundred_days_old = {"credit_report_date": TODAY - 100 * DAY, "statement_date": TODAY - 20 * DAY}
    set_fields(customer, tier="AA", **hundred_days_old)
    set_fields(other_customer, tier="A", **hundred_days_old)  # A keeps 365 days
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().customer == customer
    assert Alert.objects.get().observed == {
        "credit_report_date": "2025-02-21",
        "statement_date": "2025-05-12",
        "max_age_days": 90,
        "limit_from": "tier_policy",
        "stale": [{"source": "credit_report_date", "as_of": "2025-02-21", "age_days": 100}],
        "as_of": "2025-06-01",
    }


def test_inputs_stale_days_parameter_applies_to_every_tier(customer, other_customer):
    rule_for(AlertKind.INPUTS_STALE, params={"days": 30})
    TierPolicy.objects.filter(tier="B").delete()  # with the parameter, a policy is not needed
    set_fields(customer, tier="B", statement_date=TODAY - 31 * DAY)
    set_fields(other_customer, tier="AA", statement_date=TODAY - 30 * DAY, credit_report_date=TODAY - 30 * DAY)
    assert evaluate()["raised"] == 1
    observed = Alert.objects.get().observed
    assert Alert.objects.get().customer == customer
    assert (observed["max_age_days"], observed["limit_from"]) == (30, "rule")
    assert observed["stale"] == [{"source": "statement_date", "as_of": "2025-05-01", "age_days": 31}]


def test_inputs_stale_without_a_policy_for_the_tier_is_not_judged(customer):
    rule_for(AlertKind.INPUTS_STALE)
    TierPolicy.objects.filter(tier="B").delete()
    set_fields(customer, tier="B", credit_report_date=datetime.date(2015, 1, 1))
    assert evaluate()["raised"] == 0


def test_missing_inputs_are_not_stale(customer):
    rule_for(AlertKind.INPUTS_STALE, params={"days": 1})
    set_fields(customer, credit_report_date=None, statement_date=None)
    assert evaluate()["raised"] == 0


# --- Validation ------------------------------------------------------------------------------------
def errors_of(kind: str, params) -> list[str]:
    rule = AlertRule(name="r", kind=kind, params=params, severity="warning")
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert set(caught.value.message_dict) == {"params"}
    return caught.value.message_dict["params"]


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        (AlertKind.SCORE_DROP, {"points": 10}),
        (AlertKind.SCORE_DROP, {"points": "2.5"}),
        (AlertKind.BUREAU_DOWNGRADE, {"notches": 9}),
        (AlertKind.DEBT_RATIO_HIGH, {"above": "0.70"}),
        (AlertKind.DEBT_RATIO_HIGH, {"above": 10}),
        (AlertKind.REVIEW_OVERDUE, {"days": 0}),
        (AlertKind.DEAL_STALE, {"days": 14}),
        (AlertKind.INPUTS_STALE, {"days": None}),
        (AlertKind.INPUTS_STALE, {"days": 1}),
        (AlertKind.INPUTS_STALE, {}),
    ],
)
def test_clean_accepts_good_params(db, kind, params):
    AlertRule(name="r", kind=kind, params=params, severity="warning").full_clean()


@pytest.mark.parametrize(
    ("kind", "params", "says"),
    [
        (AlertKind.SCORE_DROP, {"points": 0}, '"points" must be a number of score points above 0'),
        (AlertKind.SCORE_DROP, {"points": 101}, '"points" must be a number of score points above 0'),
        (AlertKind.SCORE_DROP, {"points": "ten"}, '"points" must be a number of score points above 0'),
        (AlertKind.SCORE_DROP, {"points": True}, '"points" must be a number of score points above 0'),
        (AlertKind.SCORE_DROP, {"drop": 10}, 'Unknown parameters: "drop". This kind takes: "points".'),
        (AlertKind.BUREAU_DOWNGRADE, {"notches": 0}, '"notches" must be a whole number from 1 to 9'),
        (AlertKind.BUREAU_DOWNGRADE, {"notches": 10}, '"notches" must be a whole number from 1 to 9'),
        (AlertKind.BUREAU_DOWNGRADE, {"notches": 1.5}, '"notches" must be a whole number from 1 to 9'),
        (AlertKind.BUREAU_DOWNGRADE, {"notches": "1"}, '"notches" must be a whole number from 1 to 9'),
        (AlertKind.DEBT_RATIO_HIGH, {"above": 0}, '"above" must be a debt ratio'),
        (AlertKind.DEBT_RATIO_HIGH, {"above": "-0.5"}, '"above" must be a debt ratio'),
        (AlertKind.DEBT_RATIO_HIGH, {"above": "10.01"}, '"above" must be a debt ratio'),
        (AlertKind.DEBT_RATIO_HIGH, {"above": "70%"}, '"above" must be a debt ratio'),
        (AlertKind.DEBT_RATIO_HIGH, {"above": "NaN"}, '"above" must be a debt ratio'),
        (AlertKind.DEBT_RATIO_HIGH, {"above": None}, '"above" must be a debt ratio'),
        (AlertKind.REVIEW_OVERDUE, {"days": -1}, '"days" must be a whole number of days, zero or more.'),
        (AlertKind.REVIEW_OVERDUE, {"days": "3"}, '"days" must be a whole number of days, zero or more.'),
        (AlertKind.DEAL_STALE, {"days": 2.5}, '"days" must be a whole number of days, zero or more.'),
        (AlertKind.DEAL_STALE, {"stage": "approved"}, 'Unknown parameters: "stage". This kind takes: "days".'),
        (AlertKind.INPUTS_STALE, {"days": 0}, '"days" must be a whole number of days, 1 or more, or null'),
        (AlertKind.INPUTS_STALE, {"days": "365"}, '"days" must be a whole number of days, 1 or more, or null'),
    ],
)
def test_clean_refuses_bad_params_saying_what_is_expected(db, kind, params, says):
    assert errors_of(kind, params)[0].startswith(says)


def test_a_rule_saved_with_bad_params_is_skipped_and_the_others_still_run(customer, caplog):
    rule_for(AlertKind.DEBT_RATIO_HIGH, params={"above": "lots"})  # create() does not clean
    rule_for(AlertKind.REVIEW_OVERDUE)
    set_fields(customer, debt_ratio=D("5.0000"), next_review_date=TODAY - DAY)
    assert evaluate()["raised"] == 1
    assert Alert.objects.get().rule.kind == AlertKind.REVIEW_OVERDUE
    assert "skipped, invalid" in caplog.text
