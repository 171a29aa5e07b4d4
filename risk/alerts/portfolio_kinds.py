"""Kinds that watch what the firm has at stake and the work around it: overdue payments, credit
limit breaches, reviews past due and deals stuck in their stage."""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Window
from django.db.models.functions import Round, RowNumber

from customers.models import Customer
from funnel.models import OPEN_STAGES, Deal
from risk.alerts.base import moment_of, text
from risk.models import Facility
from risk.selectors import MONEY, ZERO, facilities_overdue_more_than

# An alert lists at most this many of a customer's stale deals; ``deals_total`` counts them all.
STALE_DEALS_LISTED = 10


# --- Payment overdue -------------------------------------------------------------------------------
def payment_overdue_bad(customers, params: dict, today: datetime.date):
    """The customers of ``facilities_overdue_more_than`` (risk.selectors), read from what the
    database keeps on each facility (migration 0012): a payment is more than ``days`` overdue
    when the first installment the repayments do not cover fell due before ``today - days``.
    That holds for repayments received by ``today``; a facility with one dated later (refused
    by every form and import, but a row can be written otherwise, or ``today`` be a past day)
    is computed the long way, by the waterfall. Two index ranges, however many facilities:
    the hourly run asked this per batch of customers, summing their installments and repayments
    anew each time (2.6 s per 50,000 customers at 500,000 facilities). Tests hold the two equal."""
    cutoff = today - datetime.timedelta(days=params["days"])
    facilities = Facility.objects.all()
    if customers.query.has_filters():  # a batch of the hourly run, a rule's tiers
        facilities = facilities.filter(customer__in=customers)
    by_today = Q(last_repaid_on__isnull=True) | Q(last_repaid_on__lte=today)
    kept = facilities.filter(by_today, first_unpaid_due__lt=cutoff)
    later = facilities_overdue_more_than(params["days"], today=today, queryset=facilities.exclude(by_today))
    return {
        *kept.order_by().values_list("customer_id", flat=True).distinct(),
        *later.order_by().values_list("customer_id", flat=True).distinct(),
    }


def payment_overdue_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    rows = (
        facilities_overdue_more_than(params["days"], today=today, queryset=Facility.objects.filter(customer_id__in=ids))
        .order_by("customer_id", "id")
        .values("customer_id", "code", "amount_overdue", "days_overdue")
    )
    observed: dict[int, dict] = {}
    for row in rows:
        entry = observed.setdefault(
            row["customer_id"], {"amount_overdue": ZERO, "days_overdue": 0, "facilities": [], "as_of": str(today)}
        )
        entry["amount_overdue"] += row["amount_overdue"]
        entry["days_overdue"] = max(entry["days_overdue"], row["days_overdue"])
        entry["facilities"].append(str(row["code"]))
    for entry in observed.values():
        entry["amount_overdue"] = text(entry["amount_overdue"])
    return observed


# --- Credit limit breached -------------------------------------------------------------------------
def limit_breach_bad(customers, params: dict, today: datetime.date):
    """Drawn on open facilities above the customer's credit limit, or one open facility drawn
    above its own limit (which follows the tier policy: risk.services.watch.facility_limits_follow, so a
    downgrade that lowers it below what is drawn is a breach).

    Both read the facilities through partial indexes of the open ones (migration risk/0013): a
    batch of the hourly run reads its customers' entries, index only, where a join read every
    facility of the firm once per batch (0.6 s each at 500,000 facilities)."""
    # Rounded to the fen because SQLite sums decimals as binary floats.
    drawn = (
        Facility.objects.filter(customer=OuterRef("pk"), outstanding__gt=0)
        .order_by()
        .values("customer")
        .annotate(total=Round(Sum("drawn"), 2, output_field=MONEY))
        .values("total")
    )
    # A customer without a credit limit (never graded) has no total to breach.
    over_total = (
        customers.filter(credit_limit__isnull=False)
        .annotate(drawn_total=Subquery(drawn, output_field=MONEY))
        .filter(drawn_total__gt=F("credit_limit"))
        .values_list("pk", flat=True)
    )
    over_facility = (
        Facility.objects.filter(customer__in=customers, outstanding__gt=0, drawn__gt=F("limit"))
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    return set(over_total) | set(over_facility)


def limit_breach_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    # Summed in Python for an exact Decimal on every database.
    drawn: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for customer_id, amount in Facility.objects.filter(customer_id__in=ids, outstanding__gt=0).values_list(
        "customer_id", "drawn"
    ):
        drawn[customer_id] += amount
    over: dict[int, list] = defaultdict(list)
    for customer_id, code, amount, limit in (
        Facility.objects.filter(customer_id__in=ids, outstanding__gt=0, drawn__gt=F("limit"))
        .order_by("customer_id", "id")
        .values_list("customer_id", "code", "drawn", "limit")
    ):
        over[customer_id].append({"facility": str(code), "drawn": text(amount), "limit": text(limit)})
    observed = {}
    for pk, limit in Customer.objects.filter(pk__in=ids).values_list("pk", "credit_limit"):
        observed[pk] = {"drawn_total": text(drawn[pk]), "credit_limit": text(limit)}
        if over[pk]:
            observed[pk]["facilities_over_limit"] = over[pk]
    return observed


# --- Review overdue --------------------------------------------------------------------------------
def review_overdue_bad(customers, params: dict, today: datetime.date):
    # next_review_date is indexed; a customer never graded has none and is not "overdue" here.
    return customers.filter(next_review_date__lt=today - datetime.timedelta(days=params["days"])).values_list(
        "pk", flat=True
    )


def review_overdue_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    rows = Customer.objects.filter(pk__in=ids, next_review_date__isnull=False).values_list(
        "pk", "next_review_date", "last_review_date"
    )
    return {
        pk: {
            "next_review_date": text(due),
            "last_review_date": text(last),
            "days_overdue": (today - due).days,
            "as_of": text(today),
        }
        for pk, due, last in rows
    }


# --- Deal stale in its stage -----------------------------------------------------------------------
def _stale_deals(params: dict, today: datetime.date):
    # stale_since is set by funnel.tasks.deals_flag_stale when a deal outstays its stage and
    # cleared by the next move; a closed deal is not stuck, whatever its flag says.
    cutoff = moment_of(today) - datetime.timedelta(days=params["days"])
    return Deal.objects.filter(stage__in=OPEN_STAGES, stale_since__lte=cutoff)


def deal_stale_bad(customers, params: dict, today: datetime.date):
    # A semi-join: the customers are read once, the stale deals once (customer, stage index).
    stale = _stale_deals(params, today).filter(customer_id=OuterRef("pk"))
    return customers.filter(Exists(stale)).values_list("pk", flat=True)


def deal_stale_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    by_customer = [F("customer_id")]
    rows = (
        _stale_deals(params, today)
        .filter(customer_id__in=ids)
        .annotate(
            # Longest stuck first; the cap is applied in SQL, the total counted beside it.
            position=Window(RowNumber(), partition_by=by_customer, order_by=[F("stale_since").asc(), F("id").asc()]),
            total=Window(Count("id"), partition_by=by_customer),
        )
        .filter(position__lte=STALE_DEALS_LISTED)
        .order_by("customer_id", "position")
        .values("customer_id", "code", "title", "stage", "stale_since", "total")
    )
    observed: dict[int, dict] = {}
    for row in rows:
        entry = observed.setdefault(row["customer_id"], {"deals": [], "deals_total": row["total"]})
        entry["deals"].append(
            {"code": str(row["code"]), "title": row["title"], "stage": row["stage"], "since": text(row["stale_since"])}
        )
    return observed
