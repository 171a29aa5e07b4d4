"""What the hourly alert job keeps in step around each evaluation: facility limits that follow the
customer's credit limit, and the watch list.

Both are set-based UPDATEs over id ranges that write only the rows whose value differs, so a
second run — after the first, or beside it on another worker — finds nothing to write, and an
interrupted run leaves whole batches done for the next one to finish."""

# The watch-list statement is assembled from table names, aliases and Django-compiled SQL;
# every value in it is a bound parameter (crm.sql.Params, as in customers/regrade.py).
# ruff: noqa: S608

import datetime
import logging

from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from crm.sql import Dialect, Params, id_batch, id_ranges
from customers.models import Customer, TierPolicy
from customers.review_schedule import next_review_sql, scheduled_review_sql
from customers.tier_policies import policies_by_tier, policy_case
from risk.models import UNRESOLVED, Alert, AlertSeverity, Facility
from risk.selectors import MONEY

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000
# An alert of these severities calls for an earlier review; an info alert does not.
WATCH_SEVERITIES = [AlertSeverity.WARNING.value, AlertSeverity.CRITICAL.value]


# --- Facility limits -------------------------------------------------------------------------------
def facility_limits_follow(*, batch_size: int = BATCH_SIZE) -> dict:
    """Keep every facility's ``limit`` at min(granted limit, the customer's credit limit); a
    customer without a credit limit (never graded) leaves the granted limit in force.

    A downgrade lowers the customer's credit limit (customers.regrade), this lowers the
    facilities' limits, and drawn above the lowered limit shows as a limit breach at the next
    evaluation. An upgrade gives the limit back, up to what was granted. Returns
    ``{"written": rows changed}``."""
    credit_limit = Subquery(
        Customer.objects.filter(pk=OuterRef("customer_id")).values("credit_limit")[:1], output_field=MONEY
    )
    target = Least(F("granted_limit"), Coalesce(credit_limit, F("granted_limit")), output_field=MONEY)
    written = 0
    for lo, hi in id_ranges(Facility.objects.all(), batch_size):
        # Only rows that differ: a second run, or one beside this on another worker, writes none.
        written += (
            Facility.objects.filter(pk__gte=lo, pk__lt=hi)
            .alias(target=target)
            .exclude(limit=F("target"))
            .update(limit=target)
        )
    log.info("facility limits: %d written", written)
    return {"written": written}


# --- Watch list ------------------------------------------------------------------------------------
def watch_refresh(*, today: datetime.date | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """Put on the watch list every customer with an unresolved (open or acknowledged) warning or
    critical alert raised after their last review, and take off those that no longer have one.

    On the list, ``watch_review_by`` is the local date the earliest such alert opened plus the
    monitoring interval of the customer's tier policy. Only alerts opened after the last review
    count: a review since answers the alert's call for one. The review is a date, so an alert
    opened on the day of the review still counts (>=): the date cannot tell whether the review
    came before or after it, and dropping a fresh warning is the worse mistake. Resolving the
    alert takes the customer off the list.

    ``next_review_date`` becomes min(last_review_date + the tier's review interval,
    watch_review_by) — the rule of customers.review_schedule, which the re-grade uses too, so
    the two jobs agree. It is recomputed from the scheduled date rather than min'd with the
    current value so that a watch date that moves later (the earliest alert resolved, a later
    one remaining) or goes away gives the regular date back instead of keeping the earlier one
    for ever.

    Only customers joining, on, or leaving the list are written, and only where a date changes.
    ``today`` (default: the local date) only decides which watch dates count as overdue.
    Returns ``{"written", "on_watch", "overdue"}``."""
    today = today or timezone.localdate()
    policies = policies_by_tier()
    written = 0
    if policies:
        for lo, hi in id_ranges(Customer.objects.all(), batch_size):
            written += _watch_batch(policies, lo, hi)
    on_watch = Customer.objects.filter(watch_review_by__isnull=False)
    result = {
        "written": written,
        "on_watch": on_watch.count(),
        "overdue": on_watch.filter(watch_review_by__lt=today).count(),
    }
    log.info("watch list: %(written)d customers written, %(on_watch)d on the list, %(overdue)d overdue", result)
    return result


def _watch_batch(policies: dict[str, TierPolicy], lo: int, hi: int) -> int:
    d = Dialect(connection.vendor)
    p = Params()
    # The alert's opening day in local time (Asia/Shanghai by default), as TruncDate computes it;
    # the time zone Django's fragment takes goes in as a parameter like every other value.
    opened_day = p.embed(
        *connection.ops.datetime_cast_date_sql("a.opened_at", (), timezone.get_current_timezone_name())
    )
    customers, alerts = Customer._meta.db_table, Alert._meta.db_table
    unresolved, severities = p.add_list(UNRESOLVED), p.add_list(WATCH_SEVERITIES)
    batch = id_batch(p, lo=lo, hi=hi)
    low, high = p.add(lo), p.add(hi)
    first_day = (
        f"(SELECT MIN({opened_day}) FROM {alerts} a"
        f" WHERE a.customer_id = c1.id AND a.status IN {unresolved}"
        f" AND a.severity IN {severities} AND {opened_day} >= c1.last_review_date)"
    )
    # The batch's customers that can be on the list after this run: those on it now (the
    # customer_on_watch partial index) and those with an unresolved warning or critical alert
    # (alert_customer_status, a range of customer ids). Driving the batch from these two small
    # sets, not from every customer in it, is what makes a run that changes nothing cheap: at
    # 1M customers it probed the alerts once per customer.
    members = (
        f"SELECT w1.id FROM {customers} w1 WHERE {batch('w1')} AND w1.watch_review_by IS NOT NULL"
        f" UNION SELECT a2.customer_id FROM {alerts} a2"
        f" WHERE a2.customer_id >= {low} AND a2.customer_id < {high}"
        f" AND a2.status IN {unresolved} AND a2.severity IN {severities}"
    )
    candidates = (
        f"SELECT c1.id, c1.tier, c1.last_review_date, {first_day} AS first_day FROM {customers} c1"
        f" WHERE {batch('c1')} AND c1.tier IN {p.add_list(sorted(policies))} AND c1.id IN ({members})"
    )
    watch = d.add_days("w.first_day", policy_case(policies, "monitoring_interval_days", p, tier="w.tier"))
    scheduled = scheduled_review_sql(d, p, policies, last_review="w.last_review_date", tier="w.tier")
    # first_day is fenced off (OFFSET) so it is computed once per row, not once per use.
    rows = f"SELECT w.id, {watch} AS watch, {scheduled} AS scheduled FROM ({candidates} {d.fence()}) w"
    review = next_review_sql(watch="e.watch", scheduled="e.scheduled")
    update = (
        f"UPDATE {customers} AS c SET watch_review_by = e.watch, next_review_date = {review}"
        f" FROM ({rows}) e"
        f" WHERE c.id = e.id AND {batch('c')}"
        # Joining, on or leaving the list; everyone else is regrade's business.
        f" AND (c.watch_review_by IS NOT NULL OR e.watch IS NOT NULL)"
        f" AND ({d.distinct('c.watch_review_by', 'e.watch')} OR {d.distinct('c.next_review_date', review)})"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(update, p)
        return cursor.rowcount
