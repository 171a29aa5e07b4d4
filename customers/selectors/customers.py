"""Reads for customer pages: the queries live here so views and templates stay query-free."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crm.models import Team, User
from customers.grading import ATTRIBUTES, GradeResult, next_tier_gap, score_from_points
from customers.models import Customer, TierPolicy
from customers.quality import customer_quality
from customers.regrade import active_scorecard


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    kind: str  # "+" created, "~" changed, "-" deleted
    changes: list[FieldChange]


def _display(field, value, names: dict) -> str:
    if value in (None, ""):
        return "—"
    if field.is_relation:
        return names.get((field.related_model, value), str(value))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def customer_history(customer: Customer, *, limit: int = 25) -> list[HistoryEntry]:
    """The newest changes to a customer, each as who/when and old → new per field.

    Two queries whatever the length: the history rows (one extra to diff the oldest shown) and
    the names of the owners and teams they mention."""
    rows = list(customer.history.select_related("history_user").order_by("-history_id")[: limit + 1])
    fields = {f.name: f for f in Customer._meta.get_fields() if f.concrete}
    # Resolve every owner/team id in one query each instead of one per row.
    owner_ids = {r.owner_id for r in rows}
    team_ids = {r.team_id for r in rows}
    names = {(User, u.pk): str(u) for u in User.objects.filter(pk__in=owner_ids)}
    names |= {(Team, t.pk): str(t) for t in Team.objects.filter(pk__in=team_ids)}

    entries = []
    # Rows pair with the next older one; the oldest shown pairs with None (no diff).
    for newer, older in zip(rows, [*rows[1:], None]):  # noqa: B905 - the None tail is meant
        if len(entries) == limit:
            break
        changes = []
        if older is not None:
            for change in newer.diff_against(older).changes:
                field = fields.get(change.field)
                if field is None:
                    continue
                changes.append(
                    FieldChange(
                        field=str(field.verbose_name),
                        old=_display(field, change.old, names),
                        new=_display(field, change.new, names),
                    )
                )
            if not changes and newer.history_type == "~":
                continue  # a save that changed nothing visible
        entries.append(
            HistoryEntry(
                when=newer.history_date,
                who=str(newer.history_user) if newer.history_user else "—",
                kind=newer.history_type,
                changes=changes,
            )
        )
    return entries


@dataclass(frozen=True)
class Contribution:
    attribute: str
    label: str
    weight: int
    points: int | None
    contribution: Decimal | None  # weight × points / 100, out of ``weight``


def customer_grading(customer: Customer, *, today) -> dict:
    """Everything the customer page shows about the grade, in a fixed number of queries."""
    policies = {p.tier: p for p in TierPolicy.objects.all()}
    active = active_scorecard()
    # Explain the grade with the version that produced it; data quality uses the active one.
    card = customer.scorecard or active
    spec = card.spec() if card else None
    active_spec = spec if active == card else (active.spec() if active else None)
    contributions, levers, missing = [], [], []
    if spec is not None:
        breakdown = customer.breakdown or {}
        for c in spec.criteria:
            points = breakdown.get(c.attribute)
            contributions.append(
                Contribution(
                    attribute=c.attribute,
                    label=str(ATTRIBUTES[c.attribute].label),
                    weight=c.weight,
                    points=points,
                    contribution=None if points is None else score_from_points(c.weight * points),
                )
            )
        result = GradeResult(
            tier=customer.computed_tier,
            score=customer.score,
            breakdown=breakdown,
            missing=tuple(a for a, p in breakdown.items() if p is None),
        )
        missing = [str(ATTRIBUTES[a].label) for a in result.missing]
        if customer.breakdown:
            levers = [
                {**lever, "label": str(ATTRIBUTES[lever["attribute"]].label)} for lever in next_tier_gap(result, spec)
            ]
    quality = customer_quality(customer, spec=active_spec, policies=policies, today=today) if active_spec else None
    override = customer.overrides.select_related("created_by").first() if customer.override_tier else None
    return {
        "scorecard": card,
        "contributions": contributions,
        "levers": levers,
        "missing": missing,
        "quality": quality,
        "policy": policies.get(customer.tier),
        "override": override,
        "grades": list(customer.grades.select_related("scorecard")[:12]),
        "chart": {
            "labels": [c.label for c in contributions],
            "points": [float(c.contribution) if c.contribution is not None else None for c in contributions],
            "max": [c.weight for c in contributions],
        },
    }


def customer_sources(customer: Customer, *, limit: int = 5) -> dict:
    """The latest records of each data source, newest first (one query each)."""
    return {
        "credit_reports": list(customer.credit_reports.select_related("entered_by")[:limit]),
        "financial_statements": list(customer.financial_statements.select_related("entered_by")[:limit]),
        "funding_needs": list(customer.funding_needs.select_related("entered_by")[:limit]),
        "cooperation_records": list(customer.cooperation_records.select_related("entered_by")[:limit]),
    }
