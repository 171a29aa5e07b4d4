"""The set-based re-grade (SQL) against the pure grading function (Python), and what it writes."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from customers.choices import CreditRating, IndustryPosition
from customers.grading import ATTRIBUTES, CATEGORICAL, BandSpec, CriterionSpec, ScorecardSpec, validate
from customers.models import Customer, Grade, GradeReason, ScorecardStatus, TierPolicy
from customers.regrade import active_scorecard, grade_customer_in_python, regrade
from tests.factories import SIMPLE, CustomerFactory, save_spec

pytestmark = pytest.mark.django_db

NUMERIC_COLUMNS = {  # attribute -> (decimal places, max)
    "registered_capital": (2, 10**12),
    "overdue_count": (0, 50),
    "debt_ratio": (4, 3),
    "current_ratio": (4, 10),
    "project_amount": (2, 10**11),
}
TODAY = date(2026, 6, 1)


# --- strategies ---------------------------------------------------------------------------------
def decimals(places: int, top: int):
    return st.decimals(min_value=0, max_value=top, places=places, allow_nan=False, allow_infinity=False)


@st.composite
def numeric_criterion(draw, attribute):
    places, top = NUMERIC_COLUMNS.get(attribute, (0, 30))
    edges = sorted(draw(st.sets(decimals(places, top), min_size=1, max_size=4)))
    points = draw(st.lists(st.integers(0, 100), min_size=len(edges) + 1, max_size=len(edges) + 1))
    lowers, uppers = [None, *edges], [*edges, None]
    return [BandSpec(points=p, lower=lo, upper=hi) for p, lo, hi in zip(points, lowers, uppers, strict=True)]


@st.composite
def scorecards(draw):
    names = draw(st.lists(st.sampled_from(sorted(ATTRIBUTES)), min_size=1, max_size=5, unique=True))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=len(names) - 1, max_size=len(names) - 1)))
    weights = [b - a for a, b in zip([0, *cuts], [*cuts, 10000], strict=True)]
    # weights must be positive integers adding to 100: rescale from the 10000 split
    weights = [max(1, w // 100) for w in weights]
    weights[-1] += 100 - sum(weights)
    if weights[-1] <= 0:
        weights = [100 // len(names)] * len(names)
        weights[-1] += 100 - sum(weights)
    criteria = []
    for name, weight in zip(names, weights, strict=True):
        if ATTRIBUTES[name].kind == CATEGORICAL:
            bands = [BandSpec(points=draw(st.integers(0, 100)), category=v) for v, _ in ATTRIBUTES[name].categories]
        else:
            bands = draw(numeric_criterion(name))
        criteria.append(CriterionSpec(name, weight, tuple(bands)))
    # Cut-offs at reachable weighted sums, so that every tier can occur (as validation demands).
    sums = {0}
    for c in criteria:
        sums = {s + c.weight * b.points for s in sums for b in c.bands}
    assume(len(sums) >= 3)
    _low, a, aa = sorted(draw(st.lists(st.sampled_from(sorted(sums)), min_size=3, max_size=3, unique=True)))
    return ScorecardSpec(tuple(criteria), cutoff_aa=Decimal(aa) / 100, cutoff_a=Decimal(a) / 100)


def maybe(strategy):
    return st.one_of(st.none(), strategy)


customer_inputs = st.fixed_dictionaries(
    {
        "registered_capital": decimals(2, 10**12),
        "industry_position": st.sampled_from(IndustryPosition.values),
        "credit_rating": st.sampled_from(["", *CreditRating.values]),
        "bureau_rating": st.sampled_from(["", *CreditRating.values]),
        "has_litigation": maybe(st.booleans()),
        "overdue_count": maybe(st.integers(0, 50)),
        "debt_ratio": maybe(decimals(4, 3)),
        "current_ratio": maybe(decimals(4, 10)),
        "project_amount": maybe(decimals(2, 10**11)),
        "cooperation_since": maybe(st.dates(min_value=date(1990, 1, 1), max_value=date(2027, 1, 1))),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=scorecards(), rows=st.lists(customer_inputs, min_size=1, max_size=12))
def test_batch_and_single_paths_always_agree(rm1, spec, rows):
    """Whatever the scorecard and the inputs, SQL over the portfolio = Python per customer."""
    assume(not validate(spec))  # only publishable scorecards are ever run
    Customer.objects.all().delete()
    from customers.models import Scorecard

    Scorecard.objects.all().delete()
    card = save_spec(spec, version=99, status=ScorecardStatus.ACTIVE)
    for values in rows:
        CustomerFactory(owner=rm1, team=rm1.team, **values)
    with time_machine.travel(TODAY, tick=False):
        regrade(reason=GradeReason.SCHEDULED, scorecard=card, batch_size=5)
        for customer in Customer.objects.all():
            expected = grade_customer_in_python(customer, card.spec())
            assert (customer.computed_tier, customer.score, customer.breakdown) == (
                expected.tier,
                expected.score,
                expected.breakdown,
            ), customer.pk


# --- what a run writes --------------------------------------------------------------------------


def test_first_run_grades_and_writes_history_rerun_writes_nothing(graded_customer):
    first = regrade(reason=GradeReason.SCHEDULED)
    assert (first.written, first.grades) == (1, 1)
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"
    grade = Grade.objects.get()
    assert (grade.tier, grade.reason, grade.scorecard) == ("AA", "scheduled", active_scorecard())
    assert grade.breakdown == graded_customer.breakdown

    again = regrade(reason=GradeReason.SCHEDULED)
    assert (again.written, again.grades) == (0, 0)
    assert Grade.objects.count() == 1


def test_missing_inputs_grade_unrated_with_the_gaps_named(rm1):
    customer = CustomerFactory(owner=rm1, team=rm1.team)  # no bureau report, statements, ...
    regrade(reason=GradeReason.SCHEDULED)
    customer.refresh_from_db()
    assert customer.tier == "unrated"
    assert customer.score is None
    assert customer.breakdown["bureau_rating"] is None
    assert customer.breakdown["registered_capital"] is not None


def test_policy_sets_credit_limit_and_review_date_and_a_downgrade_tightens_both(graded_customer):
    graded_customer.last_review_date = date(2026, 1, 10)
    graded_customer.save()
    regrade(reason=GradeReason.SCHEDULED)
    graded_customer.refresh_from_db()
    aa = TierPolicy.objects.get(tier="AA")
    assert graded_customer.credit_limit == aa.credit_limit(graded_customer.registered_capital)
    assert graded_customer.next_review_date == date(2026, 1, 10) + timedelta(days=aa.review_interval_days)

    Customer.objects.filter(pk=graded_customer.pk).update(bureau_rating="B", overdue_count=5, debt_ratio=Decimal("0.9"))
    regrade(reason=GradeReason.DATA_CHANGED, ids=[graded_customer.pk])
    graded_customer.refresh_from_db()
    policy = TierPolicy.objects.get(tier=graded_customer.tier)
    assert graded_customer.tier in ("A", "B")
    assert graded_customer.previous_tier == "AA"
    assert graded_customer.credit_limit < aa.credit_limit(graded_customer.registered_capital)
    assert graded_customer.next_review_date == date(2026, 1, 10) + timedelta(days=policy.review_interval_days)
    latest = Grade.objects.first()
    assert (latest.previous_tier, latest.tier, latest.reason) == ("AA", graded_customer.tier, "data_changed")


def test_policy_change_updates_terms_without_a_grade_row(graded_customer):
    regrade(reason=GradeReason.SCHEDULED)
    TierPolicy.objects.filter(tier="AA").update(capital_multiple=Decimal("0.10"))
    result = regrade(reason=GradeReason.SCHEDULED)
    graded_customer.refresh_from_db()
    assert (result.written, result.grades) == (1, 0)
    assert graded_customer.credit_limit == Decimal("50000000.00")


def test_override_sets_effective_tier_and_lapses_after_expiry(graded_customer):
    with time_machine.travel("2026-06-01 10:00 +0800", tick=False) as traveller:
        regrade(reason=GradeReason.SCHEDULED)
        Customer.objects.filter(pk=graded_customer.pk).update(
            override_tier="B", override_expires_at="2026-07-01T00:00:00+08:00"
        )
        regrade(reason=GradeReason.OVERRIDE, ids=[graded_customer.pk])
        graded_customer.refresh_from_db()
        assert (graded_customer.tier, graded_customer.computed_tier) == ("B", "AA")

        traveller.move_to("2026-07-02 10:00 +0800")
        result = regrade(reason=GradeReason.SCHEDULED)
        graded_customer.refresh_from_db()
        assert (graded_customer.tier, graded_customer.override_tier) == ("AA", "")
        assert graded_customer.override_expires_at is None
        assert result.grades == 1


def test_publishing_a_new_scorecard_regrades_everyone(graded_customer):
    regrade(reason=GradeReason.SCHEDULED)
    active_scorecard().__class__.objects.update(status=ScorecardStatus.RETIRED)
    card = save_spec(SIMPLE, version=2, status=ScorecardStatus.ACTIVE)
    result = regrade(reason=GradeReason.SCORECARD_PUBLISHED)
    graded_customer.refresh_from_db()
    assert result.grades == 1
    assert graded_customer.scorecard == card
    assert set(graded_customer.breakdown) == {"debt_ratio", "industry_position", "registered_capital"}


def test_the_database_refuses_a_tier_policy_for_an_unknown_tier():
    """Re-grading compares tiers in SQL: a policy row can only name a real tier, by any route."""
    with pytest.raises(IntegrityError), transaction.atomic():
        TierPolicy.objects.filter(tier="AA").update(tier="AA'--")
