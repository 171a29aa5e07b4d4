"""Kinds that watch a customer's grade and the data it is computed from: tier downgrade, score
drop, bureau downgrade, debt ratio, stale scorecard inputs. Each bad state is a condition on the
customer row (the grading inputs and outputs are columns of it, kept current by
customers.services.intake and customers.regrade), so the evaluation decides all of these rules
for a batch of customers in one pass over their rows (risk.alerts.evaluation)."""

import datetime
from collections import defaultdict

from django.db.models import Case, DecimalField, F, IntegerField, Q, Value, When, Window
from django.db.models.functions import Round, RowNumber
from django.db.models.lookups import GreaterThanOrEqual

from customers.choices import CreditRating
from customers.models import Customer, Grade, TierPolicy
from risk.alerts.base import TIER_RANK, text
from risk.alerts.params import number

SCORE = DecimalField(max_digits=6, decimal_places=2)
# AAA → 10 … D → 1: "worse by n notches" is a difference of ranks.
RATING_RANK = {rating: len(CreditRating.values) - i for i, rating in enumerate(CreditRating.values)}


# --- Tier downgrade and score drop: the latest grade change --------------------------------------
def tier_downgrade_condition(params: dict, today: datetime.date) -> Q:
    lowered = Q(pk__in=[])
    for old in params["from_tiers"]:
        lower = [t for t, rank in TIER_RANK.items() if rank < TIER_RANK[old]]
        lowered |= Q(previous_tier=old, tier__in=lower)
    # previous_tier is the tier before the latest grade change (customers.regrade): the state
    # stays bad until the next grade change, and an upgrade in between ends it.
    return lowered


def grade_change_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    """Old and new tier with both scores and breakdowns: the last two Grade rows."""
    last_two = (
        Grade.objects.filter(customer_id__in=ids)
        .annotate(
            position=Window(
                RowNumber(), partition_by=[F("customer_id")], order_by=[F("created_at").desc(), F("id").desc()]
            )
        )
        .filter(position__lte=2)
        .values("customer_id", "position", "tier", "score", "breakdown", "created_at")
    )
    grades: dict[int, dict] = defaultdict(dict)
    for row in last_two:
        grades[row["customer_id"]][row["position"]] = row
    observed = {}
    fields = ("tier", "previous_tier", "score", "previous_score", "breakdown")
    customers = Customer.objects.filter(pk__in=ids).only(*fields)
    for customer in customers:
        new, old = grades[customer.pk].get(1), grades[customer.pk].get(2)
        # previous_score is what the score-drop rule judged; the Grade row is the fallback for
        # customers graded before the column existed.
        old_score = customer.previous_score if customer.previous_score is not None else (old or {}).get("score")
        observed[customer.pk] = {
            "old_tier": customer.previous_tier,
            "new_tier": customer.tier,
            "old_score": text(old_score),
            "new_score": text(customer.score),
            "old_breakdown": old["breakdown"] if old else None,
            "new_breakdown": customer.breakdown,
            "graded_at": text(new["created_at"]) if new else None,
        }
    return observed


def _score_drop():
    # Rounded to the hundredth: SQLite subtracts decimals as binary floats (88.30 − 78.30 is
    # 9.999…), and a drop of exactly ``points`` must count.
    return Round(F("previous_score") - F("score"), 2, output_field=SCORE)


def score_drop_condition(params: dict, today: datetime.date) -> Q:
    # previous_score is the score before the latest grade change (customers.regrade), like
    # previous_tier: the drop stays until the next grade change. NULL on either side compares
    # as unknown, so a first grade (no previous score) never counts as a drop.
    return Q(score__isnull=False, previous_score__isnull=False) & Q(
        GreaterThanOrEqual(_score_drop(), Value(number(params["points"]), output_field=SCORE))
    )


def score_drop_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    observed = grade_change_observe(ids, params, today)
    for pk, old, new in Customer.objects.filter(pk__in=ids).values_list("pk", "previous_score", "score"):
        if pk in observed and old is not None and new is not None:
            observed[pk]["drop"] = text(old - new)
            observed[pk]["points"] = text(number(params["points"]))
    return observed


# --- Bureau rating ---------------------------------------------------------------------------------
def _rating_rank(field: str) -> Case:
    # Blank (no report) maps to NULL, and NULL never compares: no downgrade without two reports.
    whens = [When(**{field: rating}, then=Value(rank)) for rating, rank in RATING_RANK.items()]
    return Case(*whens, default=Value(None), output_field=IntegerField())


def bureau_downgrade_condition(params: dict, today: datetime.date) -> Q:
    # previous_bureau_rating is the rating of the report before the newest one (customers.services.intake):
    # the state lasts until a newer report arrives.
    return (
        ~Q(bureau_rating="")
        & ~Q(previous_bureau_rating="")
        & Q(
            GreaterThanOrEqual(
                _rating_rank("previous_bureau_rating"), _rating_rank("bureau_rating") + params["notches"]
            )
        )
    )


def bureau_downgrade_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    rows = Customer.objects.filter(pk__in=ids).values_list(
        "pk", "previous_bureau_rating", "bureau_rating", "credit_report_date"
    )
    return {
        pk: {
            "old_rating": old,
            "new_rating": new,
            "notches": RATING_RANK[old] - RATING_RANK[new] if old in RATING_RANK and new in RATING_RANK else None,
            "credit_report_date": text(report_date),
        }
        for pk, old, new, report_date in rows
    }


# --- Debt ratio ------------------------------------------------------------------------------------
def debt_ratio_high_condition(params: dict, today: datetime.date) -> Q:
    # NULL (no statement yet, or zero assets) is missing data, not a high ratio.
    return Q(debt_ratio__gt=number(params["above"]))


def debt_ratio_high_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    above = text(number(params["above"]))
    return {
        pk: {"debt_ratio": text(ratio), "above": above, "statement_date": text(statement_date)}
        for pk, ratio, statement_date in Customer.objects.filter(pk__in=ids).values_list(
            "pk", "debt_ratio", "statement_date"
        )
    }


# --- Stale scorecard inputs ------------------------------------------------------------------------
# The dated sources a grade reads, each "stale" when older than the limit. Missing (NULL) is the
# data-quality page's business, and NULL < date is never true in SQL.
DATED_INPUTS = ("credit_report_date", "statement_date")


def _older_than(limit: datetime.date) -> Q:
    condition = Q(pk__in=[])
    for column in DATED_INPUTS:
        condition |= Q(**{f"{column}__lt": limit})
    return condition


def _policy_ages() -> dict[str, int]:
    return dict(TierPolicy.objects.values_list("tier", "max_data_age_days"))


def inputs_stale_condition(params: dict, today: datetime.date) -> Q:
    days = params["days"]
    if days is not None:
        return _older_than(today - datetime.timedelta(days=days))
    # Each tier by its own policy's limit: one OR'd condition per policy. A tier without a
    # policy has no limit, so its customers are never stale here.
    condition = Q(pk__in=[])
    for tier, max_age in _policy_ages().items():
        condition |= Q(tier=tier) & _older_than(today - datetime.timedelta(days=max_age))
    return condition


def inputs_stale_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    days = params["days"]
    ages = _policy_ages() if days is None else {}
    observed = {}
    for row in Customer.objects.filter(pk__in=ids).values("pk", "tier", *DATED_INPUTS):
        max_age = days if days is not None else ages.get(row["tier"])
        if max_age is None:
            continue  # its tier lost its policy since the bad set was read
        stale = [
            {"source": column, "as_of": text(row[column]), "age_days": (today - row[column]).days}
            for column in DATED_INPUTS
            if row[column] is not None and (today - row[column]).days > max_age
        ]
        observed[row["pk"]] = {
            "credit_report_date": text(row["credit_report_date"]),
            "statement_date": text(row["statement_date"]),
            "max_age_days": max_age,
            "limit_from": "rule" if days is not None else "tier_policy",
            "stale": stale,
            "as_of": text(today),
        }
    return observed
