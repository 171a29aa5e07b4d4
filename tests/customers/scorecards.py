"""Helpers to build scorecards in tests."""

from decimal import Decimal

from customers.grading import BandSpec, CriterionSpec, ScorecardSpec
from customers.models import Band, Criterion, Scorecard, ScorecardStatus


def save_spec(spec: ScorecardSpec, *, version: int, status=ScorecardStatus.DRAFT, name="Test") -> Scorecard:
    card = Scorecard.objects.create(
        version=version, name=name, status=status, cutoff_aa=spec.cutoff_aa, cutoff_a=spec.cutoff_a
    )
    for order, c in enumerate(spec.criteria):
        criterion = Criterion.objects.create(
            scorecard=card, group="credit", attribute=c.attribute, weight=c.weight, order=order
        )
        Band.objects.bulk_create(
            Band(criterion=criterion, lower=b.lower, upper=b.upper, category=b.category, points=b.points)
            for b in c.bands
        )
    return card


def numeric(attribute: str, weight: int, *edges_and_points) -> CriterionSpec:
    """numeric("debt_ratio", 10, 100, "0.5", 60, "0.8", 0) → [−∞,0.5)→100, [0.5,0.8)→60, [0.8,∞)→0"""
    points = edges_and_points[0::2]
    edges = [Decimal(e) for e in edges_and_points[1::2]]
    lowers = [None, *edges]
    uppers = [*edges, None]
    bands = zip(points, lowers, uppers, strict=True)
    return CriterionSpec(attribute, weight, tuple(BandSpec(points=p, lower=lo, upper=hi) for p, lo, hi in bands))


def categorical(attribute: str, weight: int, mapping: dict[str, int]) -> CriterionSpec:
    return CriterionSpec(attribute, weight, tuple(BandSpec(points=p, category=k) for k, p in mapping.items()))


POSITIONS = {"leader": 100, "major": 70, "average": 40, "marginal": 10}

SIMPLE = ScorecardSpec(
    criteria=(
        numeric("debt_ratio", 40, 100, "0.5", 60, "0.8", 0),
        categorical("industry_position", 30, POSITIONS),
        numeric("registered_capital", 30, 20, "100000000", 100),
    ),
    cutoff_aa=Decimal("80"),
    cutoff_a=Decimal("60"),
)
