"""Kinds that watch what the firm has at stake and the work around it: overdue payments, credit
limit breaches, reviews past due and deals stuck in their stage."""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Window
from django.db.models.functions import Round, RowNumber

from customers.models import Customer
from funnel.models import OPEN_STAGES, Deal
from risk.alerts.base import moment_of, text
from risk.models import Facility, Repayment, RepaymentInstallment
from risk.selectors import HALF_CENT, MONEY, ZERO, facilities_overdue_more_than

# An alert lists at most this many of a customer's stale deals; ``deals_total`` counts them all.
STALE_DEALS_LISTED = 10


# --- Payment overdue -------------------------------------------------------------------------------
def payment_overdue_bad(customers, params: dict, today: datetime.date):
    """The customers of ``facilities_overdue_more_than`` (risk.selectors), computed as totals.

    A facility has a payment more than ``days`` overdue when the installments due before
    ``today - days`` add up to more than everything repaid by ``today`` (schedule amounts are
    never negative, so the cumulative schedule only grows: its last value before the cut-off is
    above "repaid" exactly when some installment before it is uncovered). That is one grouped
    pass over installments and repayments instead of three correlated subqueries per facility
    — seconds, not half a minute, for 500,000 facilities. Tests hold the two equal."""
    cutoff = today - datetime.timedelta(days=params["days"])
    ops, qn = connection.ops, connection.ops.quote_name
    facility, installment, repayment = (
        qn(model._meta.db_table) for model in (Facility, RepaymentInstallment, Repayment)
    )
    cutoff_sql, today_sql = ops.adapt_datefield_value(cutoff), ops.adapt_datefield_value(today)
    if customers.query.has_filters():
        # Some customers (a batch of the hourly job, a rule's tiers): only their facilities'
        # installments and repayments are summed. Filtering after the grouping summed every
        # facility of the firm for each of the job's fifty batches (7 s each at 500,000).
        scope_sql, scope_params = customers.order_by().values("pk").query.sql_with_params()
        # Table names from the models, the scope compiled by Django; every value is bound.
        installments = (
            f"SELECT i.facility_id, i.principal + i.interest AS owed FROM {installment} i"  # noqa: S608
            f" JOIN {facility} fi ON fi.id = i.facility_id"
            f" WHERE i.due_date < %s AND fi.customer_id IN ({scope_sql})"
        )
        repayments = (
            f"SELECT r.facility_id, -r.amount AS owed FROM {repayment} r"  # noqa: S608
            f" JOIN {facility} fr ON fr.id = r.facility_id"
            f" WHERE r.received_on <= %s AND fr.customer_id IN ({scope_sql})"
        )
        params_sql = [cutoff_sql, *scope_params, today_sql, *scope_params]
    else:
        installments = f"SELECT facility_id, principal + interest AS owed FROM {installment} WHERE due_date < %s"  # noqa: S608
        repayments = f"SELECT facility_id, -amount AS owed FROM {repayment} WHERE received_on <= %s"  # noqa: S608
        params_sql = [cutoff_sql, today_sql]
    # Table names from the models, values bound. The half fen absorbs SQLite's binary floats.
    sql = f"""
        SELECT DISTINCT f.customer_id FROM {facility} f JOIN (
            SELECT facility_id FROM ({installments} UNION ALL {repayments}) moves
            GROUP BY facility_id HAVING SUM(owed) > {HALF_CENT}
        ) behind ON behind.facility_id = f.id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params_sql)
        return [pk for (pk,) in cursor.fetchall()]


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
def _open_facilities_drawn():
    # Open: something still outstanding. Rounded to the fen because SQLite sums decimals as
    # binary floats.
    return Round(Sum("facilities__drawn", filter=Q(facilities__outstanding__gt=0)), 2, output_field=MONEY)


def limit_breach_bad(customers, params: dict, today: datetime.date):
    """Drawn on open facilities above the customer's credit limit, or one open facility drawn
    above its own limit (which follows the tier policy: risk.services.watch.facility_limits_follow, so a
    downgrade that lowers it below what is drawn is a breach)."""
    # A customer without a credit limit (never graded) has no total to breach.
    over_total = (
        customers.filter(credit_limit__isnull=False)
        .annotate(drawn_total=_open_facilities_drawn())
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
