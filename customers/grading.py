"""The grading method as pure code: no database, no request.

A scorecard is a set of criteria. Each criterion reads one customer attribute, maps it through
bands to 0-100 points, and carries an integer weight; the weights sum to 100. The score is
Σ weight × points / 100 (0-100, two decimals), and cut-offs turn it into a tier. A customer
lacking any attribute the scorecard reads is Unrated, with the missing attributes named.

``customers.regrade`` compiles the same spec to SQL for the whole portfolio; a property test
holds the two to the same answers.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.choices import CreditRating, IndustryPosition, Tier

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Attribute:
    """A customer input a criterion can read. ``column`` is the Customer column holding the
    latest value (kept current by the data-intake services)."""

    name: str
    label: str
    kind: str
    group: str
    categories: tuple[tuple[str, str], ...] = ()
    unit: str = ""

    @property
    def column(self) -> str:
        return self.name


_RATINGS = tuple((value, label) for value, label in CreditRating.choices)
ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in [
        Attribute("registered_capital", _("Registered capital"), NUMERIC, "qualification", unit="CNY"),
        Attribute(
            "industry_position",
            _("Industry position"),
            CATEGORICAL,
            "qualification",
            tuple(IndustryPosition.choices),
        ),
        Attribute("credit_rating", _("External credit rating"), CATEGORICAL, "credit", _RATINGS),
        Attribute("bureau_rating", _("Credit bureau rating"), CATEGORICAL, "credit", _RATINGS),
        Attribute(
            "has_litigation", _("Pending litigation"), CATEGORICAL, "credit", (("yes", _("Yes")), ("no", _("No")))
        ),
        Attribute("overdue_count", _("Overdue payments"), NUMERIC, "credit"),
        Attribute("debt_ratio", _("Debt ratio"), NUMERIC, "credit"),
        Attribute("current_ratio", _("Current ratio"), NUMERIC, "credit"),
        Attribute("project_amount", _("Project amount"), NUMERIC, "funding_need", unit="CNY"),
        Attribute("cooperation_years", _("Years of cooperation"), NUMERIC, "cooperation"),
    ]
}

# Inputs stored under another column than the attribute's (the attribute is derived from it).
INPUT_COLUMNS = {"cooperation_years": "cooperation_since"}


def input_column(attribute: str) -> str:
    return INPUT_COLUMNS.get(attribute, ATTRIBUTES[attribute].column)


def inputs_missing(attributes: Iterable[str]) -> Q:
    """Customers missing at least one of these inputs (empty text counts as missing, except the
    litigation flag, a boolean)."""
    condition = Q()
    for name in attributes:
        column = input_column(name)
        condition |= Q(**{f"{column}__isnull": True})
        if ATTRIBUTES[name].kind == CATEGORICAL and name != "has_litigation":
            condition |= Q(**{column: ""})
    return condition


@dataclass(frozen=True)
class BandSpec:
    points: int
    lower: Decimal | None = None  # inclusive; None: no lower bound
    upper: Decimal | None = None  # exclusive; None: no upper bound
    category: str = ""

    def matches(self, value) -> bool:
        if self.category:
            return value == self.category
        return (self.lower is None or value >= self.lower) and (self.upper is None or value < self.upper)


@dataclass(frozen=True)
class CriterionSpec:
    attribute: str
    weight: int
    bands: tuple[BandSpec, ...]
    label: str = ""

    def points_for(self, value) -> int | None:
        if value is None:
            return None
        return next((band.points for band in self.bands if band.matches(value)), None)


@dataclass(frozen=True)
class ScorecardSpec:
    criteria: tuple[CriterionSpec, ...]
    cutoff_aa: Decimal
    cutoff_a: Decimal
    version: int = 0


@dataclass(frozen=True)
class GradeResult:
    tier: str
    score: Decimal | None
    breakdown: dict[str, int | None] = field(default_factory=dict)  # attribute -> points
    missing: tuple[str, ...] = ()


def normalize_input(attribute: str, value):
    """One convention for both paths: booleans as "yes"/"no", empty strings as missing."""
    if value is None or value == "":
        return None
    if ATTRIBUTES[attribute].kind == CATEGORICAL:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)
    return Decimal(value)


def score_from_points(weighted_sum: int) -> Decimal:
    return (Decimal(weighted_sum) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def tier_for(weighted_sum: int, spec: ScorecardSpec) -> str:
    # Compared as integers (cut-off × 100) so Python and SQL can never round differently.
    if weighted_sum >= int(spec.cutoff_aa * 100):
        return Tier.AA
    if weighted_sum >= int(spec.cutoff_a * 100):
        return Tier.A
    return Tier.B


def grade(inputs: Mapping[str, object], spec: ScorecardSpec) -> GradeResult:
    """Grade one customer's inputs (attribute name -> value) with a scorecard."""
    breakdown: dict[str, int | None] = {}
    for criterion in spec.criteria:
        breakdown[criterion.attribute] = criterion.points_for(
            normalize_input(criterion.attribute, inputs.get(criterion.attribute))
        )
    missing = tuple(name for name, points in breakdown.items() if points is None)
    if missing:
        return GradeResult(Tier.UNRATED, None, breakdown, missing)
    weighted = sum(c.weight * breakdown[c.attribute] for c in spec.criteria)
    return GradeResult(tier_for(weighted, spec), score_from_points(weighted), breakdown)


def _number(value: Decimal) -> str:
    """1000000000.0000 -> 1,000,000,000; 0.6500 -> 0.65."""
    text = f"{value.normalize():f}"
    whole, _dot, fraction = text.partition(".")
    whole = f"{int(whole):,}" if whole.lstrip("-").isdigit() else whole
    return f"{whole}.{fraction}" if fraction else whole


def band_text(attribute: str, band: BandSpec) -> str:
    """A band as a person reads it: "AA", "from 0.5 to below 0.65", "below 1", "100,000,000 or more"."""
    if band.category:
        return str(dict(ATTRIBUTES[attribute].categories).get(band.category, band.category))
    if band.lower is None and band.upper is None:
        return str(_("any value"))
    if band.lower is None:
        return str(_("below %(v)s")) % {"v": _number(band.upper)}
    if band.upper is None:
        return str(_("%(v)s or more")) % {"v": _number(band.lower)}
    return str(_("from %(lo)s to below %(hi)s")) % {"lo": _number(band.lower), "hi": _number(band.upper)}


def next_tier_gap(result: GradeResult, spec: ScorecardSpec, limit: int = 4) -> list[dict]:
    """What would lift a graded customer to the next tier: per criterion, the smallest step to a
    better band that closes the gap on its own, or else its biggest possible gain. Sufficient
    levers first (smallest step first), then the rest (biggest help first)."""
    target = {Tier.B: spec.cutoff_a, Tier.A: spec.cutoff_aa}.get(result.tier)
    if target is None or result.score is None:
        return []
    needed = int(target * 100) - int(result.score * 100)
    levers = []
    for criterion in spec.criteria:
        current = result.breakdown[criterion.attribute]
        better = sorted((b for b in criterion.bands if b.points > current), key=lambda b: b.points)
        if not better:
            continue
        enough = [b for b in better if criterion.weight * (b.points - current) >= needed]
        band = enough[0] if enough else better[-1]
        gain = criterion.weight * (band.points - current)
        levers.append(
            {
                "attribute": criterion.attribute,
                "band": band_text(criterion.attribute, band),
                "gain": score_from_points(gain),
                "enough": bool(enough),
            }
        )
    levers.sort(key=lambda lever: (not lever["enough"], lever["gain"] if lever["enough"] else -lever["gain"]))
    return levers[:limit]


# --- Validation ---------------------------------------------------------------------------------
def validate(spec: ScorecardSpec) -> list[str]:
    """Every reason this scorecard cannot be published; empty when it can."""
    errors: list[str] = []
    if not spec.criteria:
        return [str(_("The scorecard has no criteria."))]
    total = sum(c.weight for c in spec.criteria)
    if total != 100:
        errors.append(str(_("The weights add up to %(total)d; they must add up to 100.")) % {"total": total})
    seen = set()
    for c in spec.criteria:
        label = c.label or c.attribute
        if c.attribute not in ATTRIBUTES:
            errors.append(str(_("%(label)s reads an unknown attribute.")) % {"label": label})
            continue
        if c.attribute in seen:
            errors.append(str(_("%(label)s is used by more than one criterion.")) % {"label": label})
        seen.add(c.attribute)
        if c.weight <= 0:
            errors.append(str(_("%(label)s needs a positive weight.")) % {"label": label})
        errors.extend(_band_errors(c, label))
    if not (0 < spec.cutoff_a < spec.cutoff_aa <= 100):
        errors.append(str(_("Cut-offs must satisfy 0 < A < AA ≤ 100.")))
    elif not errors:
        errors.extend(_reachability_errors(spec))
    return errors


def _band_errors(c: CriterionSpec, label: str) -> list[str]:
    errors = []
    if not c.bands:
        return [str(_("%(label)s has no bands.")) % {"label": label}]
    if any(not 0 <= b.points <= 100 for b in c.bands):
        errors.append(str(_("%(label)s: points must be between 0 and 100.")) % {"label": label})
    attribute = ATTRIBUTES[c.attribute]
    if attribute.kind == CATEGORICAL:
        categories = [b.category for b in c.bands]
        allowed = {value for value, _label in attribute.categories}
        if len(set(categories)) != len(categories):
            errors.append(str(_("%(label)s lists a category twice.")) % {"label": label})
        if unknown := set(categories) - allowed:
            errors.append(
                str(_("%(label)s: unknown categories %(values)s.")) % {"label": label, "values": ", ".join(unknown)}
            )
        if uncovered := [v for v, _label in attribute.categories if v not in categories]:
            errors.append(
                str(_("%(label)s gives no points for %(values)s.")) % {"label": label, "values": ", ".join(uncovered)}
            )
        return errors
    bands = sorted(c.bands, key=lambda b: (b.lower is not None, b.lower or 0))
    if any(b.category for b in bands):
        errors.append(str(_("%(label)s is numeric; its bands take ranges, not categories.")) % {"label": label})
    if bands[0].lower is not None:
        errors.append(str(_("%(label)s: values below %(v)s fall in no band.")) % {"label": label, "v": bands[0].lower})
    if bands[-1].upper is not None:
        errors.append(
            str(_("%(label)s: values from %(v)s up fall in no band.")) % {"label": label, "v": bands[-1].upper}
        )
    for band in bands:
        if band.lower is not None and band.upper is not None and band.lower >= band.upper:
            errors.append(
                str(_("%(label)s: the band %(lo)s–%(hi)s is empty."))
                % {"label": label, "lo": band.lower, "hi": band.upper}
            )
    for before, after in pairwise(bands):
        if before.upper is None or after.lower is None or before.upper > after.lower:
            errors.append(str(_("%(label)s: bands overlap.")) % {"label": label})
        elif before.upper < after.lower:
            errors.append(
                str(_("%(label)s: values from %(lo)s to %(hi)s fall in no band."))
                % {"label": label, "lo": before.upper, "hi": after.lower}
            )
    return errors


def _reachability_errors(spec: ScorecardSpec) -> list[str]:
    """Every tier must be reachable by some combination of band points."""
    sums = {0}
    for c in spec.criteria:
        sums = {s + c.weight * b.points for s in sums for b in c.bands}
    tiers = {tier_for(s, spec) for s in sums}
    missing = [t for t in (Tier.AA, Tier.A, Tier.B) if t not in tiers]
    return [str(_("No customer could ever be graded %(tier)s.")) % {"tier": t} for t in missing]
