from decimal import Decimal

from customers.grading import BandSpec, CriterionSpec, ScorecardSpec, validate
from tests.factories import POSITIONS, SIMPLE, categorical, numeric


def with_criteria(*criteria, aa="80", a="60"):
    return ScorecardSpec(tuple(criteria), Decimal(aa), Decimal(a))


def test_the_simple_and_the_shipped_scorecards_are_valid(db):
    from customers.regrade import active_scorecard

    assert validate(SIMPLE) == []
    assert validate(active_scorecard().spec()) == []


def test_weights_must_add_up_to_100():
    spec = with_criteria(numeric("debt_ratio", 40, 100, "0.5", 0), categorical("industry_position", 50, POSITIONS))
    assert any("add up to 90" in e for e in validate(spec))


def test_numeric_gap_is_refused():
    gap = CriterionSpec(
        "debt_ratio",
        100,
        (BandSpec(100, None, Decimal("0.5")), BandSpec(50, Decimal("0.6"), None)),
    )
    assert any("0.5 to 0.6 fall in no band" in e for e in validate(with_criteria(gap)))


def test_numeric_overlap_is_refused():
    overlap = CriterionSpec(
        "debt_ratio",
        100,
        (BandSpec(100, None, Decimal("0.6")), BandSpec(50, Decimal("0.5"), None)),
    )
    assert any("overlap" in e for e in validate(with_criteria(overlap)))


def test_unbounded_ends_are_required():
    closed = CriterionSpec("debt_ratio", 100, (BandSpec(100, Decimal("0"), Decimal("1")),))
    errors = validate(with_criteria(closed))
    assert any("values below 0" in e for e in errors)
    assert any("values from 1 up" in e for e in errors)


def test_every_category_needs_points():
    partial = categorical("industry_position", 100, {"leader": 100, "major": 50})
    assert any("average, marginal" in e for e in validate(with_criteria(partial)))


def test_unknown_category_and_duplicate_attribute_are_refused():
    bad = categorical("industry_position", 50, {**POSITIONS, "alien": 5})
    spec = with_criteria(bad, categorical("industry_position", 50, POSITIONS))
    errors = validate(spec)
    assert any("alien" in e for e in errors)
    assert any("more than one criterion" in e for e in errors)


def test_cutoffs_must_be_ordered():
    assert any("0 < A < AA" in e for e in validate(with_criteria(*SIMPLE.criteria, aa="60", a="80")))


def test_a_tier_nobody_can_reach_is_refused():
    # Points are 0 or 100 with one criterion: scores are 0 or 100, never in [60, 80).
    spec = with_criteria(numeric("debt_ratio", 100, 100, "0.5", 0))
    assert validate(spec) == ["No customer could ever be graded A."]
    unreachable_aa = with_criteria(numeric("debt_ratio", 100, 70, "0.5", 0), aa="80", a="60")
    assert "No customer could ever be graded AA." in validate(unreachable_aa)


def test_points_above_100_are_refused():
    spec = with_criteria(numeric("debt_ratio", 100, 120, "0.5", 0))
    assert any("between 0 and 100" in e for e in validate(spec))
