"""The rules whose bad state is a condition on the customer row (tier downgrade, score drop,
bureau downgrade, debt ratio, stale inputs) are decided together, in one pass over a batch's
customers (risk.alerts.evaluation._bad_on_the_row). Whatever the customers and the rules —
their parameters, their tiers, several of one kind — the pass finds exactly the customers each
rule's own query finds, and an evaluation of all the rules raises exactly the alerts that
evaluating them one by one raises."""

import datetime
import json
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.choices import CreditRating, Tier
from customers.models import Customer
from risk.alerts import evaluate
from risk.alerts.evaluation import _bad_on_the_row, _customers, _params
from risk.alerts.kinds import KINDS
from risk.models import Alert, AlertKind, AlertRule
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 1)
TIERS = [Tier.AA.value, Tier.A.value, Tier.B.value, Tier.UNRATED.value]
RATINGS = ["", *CreditRating.values]
maybe_date = st.none() | st.integers(0, 900).map(lambda days: TODAY - datetime.timedelta(days=days))
maybe_score = st.none() | st.decimals(min_value=0, max_value=100, places=2)

customer_rows = st.fixed_dictionaries(
    {
        "tier": st.sampled_from(TIERS),
        "previous_tier": st.sampled_from(["", *TIERS]),
        "score": maybe_score,
        "previous_score": maybe_score,
        "bureau_rating": st.sampled_from(RATINGS),
        "previous_bureau_rating": st.sampled_from(RATINGS),
        "debt_ratio": st.none() | st.decimals(min_value=0, max_value=2, places=4),
        "credit_report_date": maybe_date,
        "statement_date": maybe_date,
    }
)
tiers = st.lists(st.sampled_from(TIERS), unique=True, max_size=2)
rule_specs = st.one_of(
    st.tuples(
        st.just(AlertKind.TIER_DOWNGRADE),
        st.fixed_dictionaries({"from_tiers": st.lists(st.sampled_from(["AA", "A"]), unique=True, min_size=1)}),
        tiers,
    ),
    st.tuples(st.just(AlertKind.SCORE_DROP), st.fixed_dictionaries({"points": st.integers(1, 30)}), tiers),
    st.tuples(st.just(AlertKind.BUREAU_DOWNGRADE), st.fixed_dictionaries({"notches": st.integers(1, 3)}), tiers),
    st.tuples(
        st.just(AlertKind.DEBT_RATIO_HIGH),
        st.fixed_dictionaries({"above": st.sampled_from(["0.50", "0.70", "0.9999"])}),
        tiers,
    ),
    st.tuples(
        st.just(AlertKind.INPUTS_STALE), st.fixed_dictionaries({"days": st.none() | st.integers(30, 720)}), tiers
    ),
)


def make_rules(specs) -> list[AlertRule]:
    return [
        AlertRule.objects.create(name=f"{kind} {n}", kind=kind, params=params, tiers=rule_tiers)
        for n, (kind, params, rule_tiers) in enumerate(specs)
    ]


def make_customers(rows, owner) -> list[Customer]:
    customers = CustomerFactory.create_batch(len(rows), owner=owner, team=owner.team)
    for customer, row in zip(customers, rows, strict=True):
        Customer.objects.filter(pk=customer.pk).update(**row)
    return customers


SETTINGS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(rows=st.lists(customer_rows, min_size=1, max_size=12), specs=st.lists(rule_specs, min_size=2, max_size=6))
def test_one_pass_finds_what_each_rules_own_query_finds(rm1, rows, specs):
    with transaction.atomic():
        customers = make_customers(rows, rm1)
        rules = make_rules(specs)
        lo, hi = customers[0].pk, customers[-1].pk + 1
        one_pass = _bad_on_the_row(rules, TODAY, lo, hi)
        for rule in rules:
            alone = set(KINDS[rule.kind].bad(_customers(rule, lo, hi), _params(rule), TODAY))
            assert one_pass[rule.pk] == alone, (rule.kind, rule.params, rule.tiers)
        transaction.set_rollback(True)


def alerts_raised() -> set[tuple]:
    return {
        (rule, customer, severity, json.dumps(observed, sort_keys=True))
        for rule, customer, severity, observed in Alert.objects.values_list(
            "rule__name", "customer_id", "severity", "observed"
        )
    }


@SETTINGS
@given(rows=st.lists(customer_rows, min_size=1, max_size=8), specs=st.lists(rule_specs, min_size=2, max_size=5))
def test_evaluating_the_rules_together_raises_what_evaluating_each_raises(rm1, rows, specs):
    with transaction.atomic():
        make_customers(rows, rm1)
        rules = make_rules(specs)
        with transaction.atomic():
            together = evaluate(today=TODAY)
            raised_together = alerts_raised()
            transaction.set_rollback(True)
        alone = {"raised": 0, "seen_again": 0, "still_bad": 0, "recovered": 0}
        for rule in rules:
            for key, value in evaluate(rule_ids=[rule.pk], today=TODAY).items():
                alone[key] += value
        assert together == alone
        assert raised_together == alerts_raised()
        transaction.set_rollback(True)


def test_a_batch_reads_the_customer_rows_once_for_all_the_row_rules(rm1, django_assert_num_queries):
    make_customers([{"tier": "B", "previous_tier": "AA", "debt_ratio": Decimal("0.95"), "score": Decimal("40")}], rm1)
    rules = make_rules(
        [
            (AlertKind.TIER_DOWNGRADE, {}, []),
            (AlertKind.DEBT_RATIO_HIGH, {}, []),
            (AlertKind.INPUTS_STALE, {"days": 30}, []),
        ]
    )
    with django_assert_num_queries(1):
        bad = _bad_on_the_row(rules, TODAY, None, None)
    assert [len(bad[rule.pk]) for rule in rules] == [1, 1, 0]
