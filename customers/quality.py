"""Data quality per customer: which scorecard inputs are missing (completeness) and which
are older than the tier policy allows (staleness). Pure over a customer row plus the active
scorecard's spec and the policies; ``needing_attention`` is the same rule as a queryset filter."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from customers.grading import ATTRIBUTES, ScorecardSpec

# Which dated source an attribute comes from; attributes not listed are customer master data.
SOURCE_DATES = {
    "bureau_rating": "credit_report_date",
    "overdue_count": "credit_report_date",
    "has_litigation": "credit_report_date",
    "debt_ratio": "statement_date",
    "current_ratio": "statement_date",
    "project_amount": "funding_need_date",
}
SOURCE_LABELS = {
    "credit_report_date": _("Credit report"),
    "statement_date": _("Financial statement"),
    "funding_need_date": _("Funding need"),
}
# Inputs whose column is not the attribute name.
INPUT_COLUMNS = {"cooperation_years": "cooperation_since"}


@dataclass(frozen=True)
class StaleSource:
    column: str
    label: str
    as_of: date
    age_days: int
    max_age_days: int


@dataclass(frozen=True)
class Quality:
    missing: list[str] = field(default_factory=list)  # attribute names
    stale: list[StaleSource] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale

    def missing_labels(self) -> list[str]:
        return [str(ATTRIBUTES[name].label) for name in self.missing]


def _column(attribute: str) -> str:
    return INPUT_COLUMNS.get(attribute, ATTRIBUTES[attribute].column)


def customer_quality(customer, *, spec: ScorecardSpec, policies: dict, today: date) -> Quality:
    used = [c.attribute for c in spec.criteria]
    missing = [name for name in used if getattr(customer, _column(name)) in (None, "")]
    policy = policies.get(customer.tier)
    stale = []
    if policy is not None:
        for column in sorted({SOURCE_DATES[name] for name in used if name in SOURCE_DATES}):
            as_of = getattr(customer, column)
            if as_of is not None and (today - as_of).days > policy.max_data_age_days:
                stale.append(
                    StaleSource(
                        column, str(SOURCE_LABELS[column]), as_of, (today - as_of).days, policy.max_data_age_days
                    )
                )
    return Quality(missing=missing, stale=stale)


def incomplete_condition(spec: ScorecardSpec) -> Q:
    """Customers missing at least one input the scorecard reads."""
    condition = Q()
    for name in (c.attribute for c in spec.criteria):
        column = _column(name)
        condition |= Q(**{f"{column}__isnull": True})
        if ATTRIBUTES[name].kind == "categorical" and name != "has_litigation":
            condition |= Q(**{column: ""})
    return condition


def stale_condition(spec: ScorecardSpec, *, policies: dict, today: date) -> Q:
    """Customers with a source older than their tier's policy allows."""
    condition = Q()
    for column in sorted({SOURCE_DATES[c.attribute] for c in spec.criteria if c.attribute in SOURCE_DATES}):
        for tier, policy in policies.items():
            limit = today - timedelta(days=policy.max_data_age_days)
            condition |= Q(tier=tier, **{f"{column}__lt": limit})
    return condition


def needing_attention(queryset: QuerySet, *, spec: ScorecardSpec, policies: dict, today: date) -> QuerySet:
    """The customers whose quality is not ok, by the same rule as customer_quality()."""
    condition = incomplete_condition(spec) | stale_condition(spec, policies=policies, today=today)
    return queryset.filter(condition) if condition else queryset.none()
