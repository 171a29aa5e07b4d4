"""The pure grading function: band edges, missing inputs, tiers, explanations."""

from decimal import Decimal

import pytest

from customers.grading import ScorecardSpec, grade, next_tier_gap
from tests.factories import SIMPLE, categorical, numeric

FULL = {"debt_ratio": Decimal("0.3"), "industry_position": "leader", "registered_capital": Decimal("500000000")}


def test_full_marks_is_aa_with_score_100():
    result = grade(FULL, SIMPLE)
    assert (result.tier, result.score, result.missing) == ("AA", Decimal("100.00"), ())
    assert result.breakdown == {"debt_ratio": 100, "industry_position": 100, "registered_capital": 100}


@pytest.mark.parametrize(
    ("debt_ratio", "points"),
    [("0.4999", 100), ("0.5", 60), ("0.5000", 60), ("0.7999", 60), ("0.8", 0), ("5", 0), ("0", 100)],
)
def test_lower_edge_is_inclusive_upper_edge_exclusive(debt_ratio, points):
    result = grade({**FULL, "debt_ratio": Decimal(debt_ratio)}, SIMPLE)
    assert result.breakdown["debt_ratio"] == points


def test_cutoffs_are_inclusive():
    # 40×60 + 30×100 + 30×100 = 8400 → 84.00: AA; with "average" 40×60+30×40+30×100 = 6600 → A
    assert grade({**FULL, "debt_ratio": Decimal("0.6")}, SIMPLE).tier == "AA"
    assert grade({**FULL, "debt_ratio": Decimal("0.6"), "industry_position": "average"}, SIMPLE).tier == "A"
    exact = ScorecardSpec(SIMPLE.criteria, cutoff_aa=Decimal("84"), cutoff_a=Decimal("60"))
    assert grade({**FULL, "debt_ratio": Decimal("0.6")}, exact).tier == "AA"
    above = ScorecardSpec(SIMPLE.criteria, cutoff_aa=Decimal("84.01"), cutoff_a=Decimal("60"))
    assert grade({**FULL, "debt_ratio": Decimal("0.6")}, above).tier == "A"


def test_low_score_is_b():
    result = grade({"debt_ratio": Decimal("0.9"), "industry_position": "marginal", "registered_capital": 1}, SIMPLE)
    assert (result.tier, result.score) == ("B", Decimal("9.00"))


@pytest.mark.parametrize("missing", ["debt_ratio", "industry_position", "registered_capital"])
def test_missing_input_is_unrated_and_named_never_b(missing):
    result = grade({k: v for k, v in FULL.items() if k != missing}, SIMPLE)
    assert result.tier == "unrated"
    assert result.score is None
    assert result.missing == (missing,)


def test_empty_string_and_none_count_as_missing():
    assert grade({**FULL, "industry_position": ""}, SIMPLE).missing == ("industry_position",)
    assert grade({**FULL, "debt_ratio": None}, SIMPLE).missing == ("debt_ratio",)


def test_boolean_inputs_map_to_yes_no_categories():
    spec = ScorecardSpec(
        (categorical("has_litigation", 50, {"no": 100, "yes": 0}), numeric("overdue_count", 50, 100, "1", 0)),
        Decimal("80"),
        Decimal("40"),
    )
    assert grade({"has_litigation": False, "overdue_count": 0}, spec).tier == "AA"
    assert grade({"has_litigation": True, "overdue_count": 0}, spec).tier == "A"
    assert grade({"has_litigation": None, "overdue_count": 0}, spec).missing == ("has_litigation",)


def test_score_rounds_half_up_to_cents():
    spec = ScorecardSpec(
        (numeric("debt_ratio", 33, 1, "1", 0), numeric("current_ratio", 67, 0, "1", 1)), Decimal("1"), Decimal("0.5")
    )
    # 33×1 + 67×1 = 100 → 1.00; 33×1 → 0.33
    assert grade({"debt_ratio": 0, "current_ratio": 2}, spec).score == Decimal("1.00")
    assert grade({"debt_ratio": 0, "current_ratio": 0}, spec).score == Decimal("0.33")


def test_next_tier_gap_names_the_lever_that_is_enough():
    result = grade({**FULL, "industry_position": "average", "debt_ratio": Decimal("0.6")}, SIMPLE)  # 66.00: A
    levers = next_tier_gap(result, SIMPLE)
    assert levers[0]["enough"] is True
    assert levers[0]["attribute"] == "debt_ratio"  # 40 × (100 − 60) = 16 points ≥ 14 needed
    assert levers[0]["gain"] == Decimal("16.00")


def test_no_gap_for_aa_or_unrated():
    assert next_tier_gap(grade(FULL, SIMPLE), SIMPLE) == []
    assert next_tier_gap(grade({}, SIMPLE), SIMPLE) == []


def test_lever_bands_read_like_text():
    from customers.grading import BandSpec, band_text

    assert band_text("debt_ratio", BandSpec(1, None, Decimal("0.5000"))) == "below 0.5"
    assert band_text("project_amount", BandSpec(1, Decimal("100000000.0000"), None)) == "100,000,000 or more"
    assert band_text("debt_ratio", BandSpec(1, Decimal("0.5"), Decimal("0.65"))) == "from 0.5 to below 0.65"
    assert band_text("industry_position", BandSpec(1, category="leader")) == "Industry leader"
