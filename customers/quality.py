"""Data quality per customer: which scorecard inputs are missing (completeness) and which
are older than the tier policy allows (staleness). Pure over a customer row plus the active
scorecard's spec and the policies; ``needing_attention`` is the same rule as a queryset filter."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _

from customers.grading import ATTRIBUTES, ScorecardSpec, input_column, inputs_missing
from customers.models.customer import OLDEST_SOURCE

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


def customer_quality(customer, *, spec: ScorecardSpec, policies: dict, today: date) -> Quality:
    used = [c.attribute for c in spec.criteria]
    missing = [name for name in used if getattr(customer, input_column(name)) in (None, "")]
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
    """Customers missing at least one input the scorecard reads. Its arms are some of those of
    the partial indexes customer_incomplete / customer_team_incomplete (customers.models), so
    those serve it for any scorecard that leaves out the optional external credit rating."""
    return inputs_missing(c.attribute for c in spec.criteria)


def stale_condition(spec: ScorecardSpec, *, policies: dict, today: date) -> Q:
    """Customers with a source older than their tier's policy allows."""
    condition = Q()
    for column in sorted({SOURCE_DATES[c.attribute] for c in spec.criteria if c.attribute in SOURCE_DATES}):
        for tier, policy in policies.items():
            limit = today - timedelta(days=policy.max_data_age_days)
            condition |= Q(tier=tier, **{f"{column}__lt": limit})
    if condition and connection.vendor == "postgresql":
        # Implied by the condition (a source older than some tier's limit is older than the
        # latest limit, and LEAST skips NULLs), and an index range on the oldest source date
        # (customer_team_oldest_source): only the team's customers with an old source are
        # read, not the whole scope. SQLite's MIN() of a NULL is NULL, so it goes without.
        latest = max(today - timedelta(days=p.max_data_age_days) for p in policies.values())
        condition &= Q(LessThan(OLDEST_SOURCE, latest))
    return condition


def needing_attention(queryset: QuerySet, *, spec: ScorecardSpec, policies: dict, today: date) -> QuerySet:
    """The customers whose quality is not ok, by the same rule as customer_quality()."""
    condition = incomplete_condition(spec) | stale_condition(spec, policies=policies, today=today)
    return queryset.filter(condition) if condition else queryset.none()
