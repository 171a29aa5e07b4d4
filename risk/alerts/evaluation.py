"""The evaluation that raises alerts.

Evaluation, per enabled rule: one set-based query gives the customers in the rule's bad state
now; comparing it with their ``AlertCondition`` rows gives the transitions. Only the change into
the bad state raises an alert; staying bad updates the open alert's ``last_seen_at`` (if older
than ``SEEN_REFRESH``); leaving it marks the condition good (the alert stays until a person
resolves it).

Idempotent and safe with several workers: each batch locks its condition rows (``SELECT … FOR
UPDATE`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` serialises writers) and decides the
transitions from what it reads under the lock, so a second run — concurrent or not — finds the
conditions already bad and raises nothing. The partial unique constraint
``one_open_alert_per_customer_and_rule`` is the last line: a duplicate unresolved alert is
refused by the database, whatever wrote the first one.

Only customers whose state may have changed are locked; those bad at the last run and still bad
(run after run, most of them) are only re-stamped, by one statement per rule."""

import datetime
import logging
import operator
from collections.abc import Iterable
from functools import reduce

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from customers.models import Customer
from risk.alerts.base import Kind
from risk.alerts.inserts import insert_alerts, insert_bad_conditions
from risk.alerts.kinds import KINDS, rule_problems
from risk.models import UNRESOLVED, Alert, AlertCondition, AlertEvent, AlertEventKind, AlertRule

log = logging.getLogger(__name__)
BATCH_SIZE = 2000
# How old an alert's "last seen" may be before a run rewrites it. Scheduled runs are an hour
# apart and always refresh it; a run right after another (a retry, a manual run, a second
# worker) finds it fresh and writes no row at all.
SEEN_REFRESH = datetime.timedelta(minutes=10)


def evaluate(
    *,
    rule_ids: Iterable[int] | None = None,
    today: datetime.date | None = None,
    lo: int | None = None,
    hi: int | None = None,
) -> dict:
    """Evaluate the enabled rules (or those of ``rule_ids`` that are enabled) as of ``today``
    (default: the local date), for every customer or those with lo <= id < hi (one batch of the
    fanned-out hourly run, risk.tasks). Returns counts: ``raised`` (new alerts), ``seen_again``
    (back in the bad state while an earlier alert is still unresolved), ``still_bad``,
    ``recovered``. Batches are independent: each reads, locks and writes only its customers'
    conditions and alerts."""
    today = today or timezone.localdate()
    now = timezone.now()
    totals = {"raised": 0, "seen_again": 0, "still_bad": 0, "recovered": 0}
    rules = AlertRule.objects.filter(enabled=True, kind__in=list(KINDS))
    if rule_ids is not None:
        rules = rules.filter(pk__in=list(rule_ids))
    valid = []
    for rule in rules:
        problems = rule_problems(kind=rule.kind, params=rule.params, tiers=rule.tiers)
        if problems:
            # A rule saved around AlertRule.clean (a shell, a data migration) is skipped, loudly,
            # rather than stopping every rule after it.
            log.error("alert rule %s (%s) skipped, invalid: %s", rule.pk, rule.kind, problems)
            continue
        valid.append(rule)
    on_row = _bad_on_the_row([rule for rule in valid if KINDS[rule.kind].condition is not None], today, lo, hi)
    for rule in valid:
        counts = _evaluate_rule(rule, today=today, now=now, lo=lo, hi=hi, bad=on_row.get(rule.pk))
        log.info("alert rule %s (%s): %s", rule.pk, rule.kind, counts)
        for key, value in counts.items():
            totals[key] += value
    return totals


def _customers(rule: AlertRule, lo: int | None, hi: int | None) -> QuerySet:
    # No ordering: the customers' default (by name) would walk the name index of the whole
    # table to put a batch's rows in order for a set that has none.
    customers = Customer.objects.filter(**_id_range(lo, hi)).order_by()
    if rule.tiers:
        customers = customers.filter(tier__in=rule.tiers)
    return customers


def _bad_on_the_row(rules: list[AlertRule], today: datetime.date, lo: int | None, hi: int | None) -> dict[int, set]:
    """{rule id: the customers in its bad state} for rules whose bad state is a condition on
    the customer row, decided together in one pass over the batch's rows: one query per rule
    read the same 50,000 rows five times over (50–140 ms each at 1M customers). Only the
    customers bad under some rule come back, each with a flag per rule."""
    if len(rules) < 2:
        return {}  # one rule: its own query is the one pass
    conditions = {}
    for rule in rules:
        kind = KINDS[rule.kind]
        condition = kind.condition(_params(rule), today)
        if rule.tiers:
            condition &= Q(tier__in=rule.tiers)
        conditions[f"bad_{rule.pk}"] = condition
    rows = (
        Customer.objects.filter(**_id_range(lo, hi))
        .filter(reduce(operator.or_, conditions.values()))
        .order_by()
        .annotate(**{name: ExpressionWrapper(c, output_field=BooleanField()) for name, c in conditions.items()})
        .values_list("pk", *conditions)
    )
    bad: dict[int, set] = {rule.pk: set() for rule in rules}
    for pk, *flags in rows.iterator(chunk_size=10_000):
        for rule, flag in zip(rules, flags, strict=True):
            if flag:
                bad[rule.pk].add(pk)
    return bad


def _params(rule: AlertRule) -> dict:
    kind = KINDS[rule.kind]
    return {**kind.defaults, **rule.params}


def _id_range(lo: int | None, hi: int | None, field: str = "pk") -> dict:
    return {k: v for k, v in ((f"{field}__gte", lo), (f"{field}__lt", hi)) if v is not None}


def _evaluate_rule(
    rule: AlertRule,
    *,
    today: datetime.date,
    now: datetime.datetime,
    lo: int | None,
    hi: int | None,
    bad: set[int] | None = None,
) -> dict:
    """``bad``: the rule's bad customers when already found (``_bad_on_the_row``)."""
    kind = KINDS[rule.kind]
    params = _params(rule)
    if bad is None:
        bad = set(kind.bad(_customers(rule, lo, hi), params, today))
    # Customers bad at the last run that may have recovered (including any that since left the
    # rule's tiers: out of scope is not bad).
    was_bad = set(
        AlertCondition.objects.filter(rule=rule, is_bad=True, **_id_range(lo, hi, "customer_id")).values_list(
            "customer_id", flat=True
        )
    )
    counts = {"raised": 0, "seen_again": 0, "still_bad": 0, "recovered": 0}
    # Only a possible transition needs the lock: bad now and not at the last run, or the other
    # way round. Customers bad then and now (most of them, run after run) are only re-stamped.
    changing = sorted(bad ^ was_bad)
    for start in range(0, len(changing), BATCH_SIZE):
        batch = changing[start : start + BATCH_SIZE]
        for key, value in _evaluate_batch(rule, kind, params, batch, bad, today=today, now=now).items():
            counts[key] += value
    _restamp(rule, now=now, lo=lo, hi=hi)
    counts["still_bad"] += len(bad & was_bad)
    return counts


def _evaluate_batch(
    rule: AlertRule,
    kind: Kind,
    params: dict,
    batch: list[int],
    bad: set[int],
    *,
    today: datetime.date,
    now: datetime.datetime,
) -> dict:
    bad_here = [pk for pk in batch if pk in bad]
    with transaction.atomic():
        # A customer never bad before under this rule gets its condition row now, already bad:
        # the insert is the claim. A concurrent run inserting the same row waits for ours to
        # commit and then skips it, so exactly one run raises. Inserted in id order, like the
        # locks below, so two runs cannot deadlock.
        first_time = insert_bad_conditions(rule, bad_here, now=now)
        # The others have a row: locked, and what is read under the lock decides.
        conditions = dict(
            AlertCondition.objects.select_for_update()
            .filter(rule=rule, customer_id__in=[pk for pk in batch if pk not in first_time])
            .order_by("customer_id")
            .values_list("customer_id", "is_bad")
        )
        relapsed = [pk for pk in bad_here if pk in conditions and not conditions[pk]]
        # Turned bad by a concurrent run since our read of the conditions: nothing left to do.
        still_bad = [pk for pk in bad_here if conditions.get(pk)]
        recovered = [pk for pk, is_bad in conditions.items() if is_bad and pk not in bad]

        raised, seen_again = _raise(rule, kind, params, sorted(first_time), relapsed, today=today, now=now)
        conditions_of = AlertCondition.objects.filter(rule=rule)
        conditions_of.filter(customer_id__in=relapsed).update(is_bad=True, since=now)
        conditions_of.filter(customer_id__in=recovered).update(is_bad=False, since=now)
    return {"raised": raised, "seen_again": seen_again, "still_bad": len(still_bad), "recovered": len(recovered)}


def _restamp(rule: AlertRule, *, now: datetime.datetime, lo: int | None, hi: int | None) -> None:
    """Customers still bad — their condition is bad and was not raised just now: their
    unresolved alert was seen again now. Stamps younger than SEEN_REFRESH are left alone, so a
    run right after another writes no row. The condition rows are not touched: they change only
    on a transition, which keeps the hourly run's writes to the alerts people look at. No lock:
    nothing is decided here, and a resolved alert stays as it was closed."""
    bad = AlertCondition.objects.filter(rule=rule, is_bad=True, **_id_range(lo, hi, "customer_id"))
    Alert.objects.filter(
        **_id_range(lo, hi, "customer_id"),
        rule=rule,
        status__in=UNRESOLVED,
        last_seen_at__lte=now - SEEN_REFRESH,
        customer_id__in=bad.values("customer_id"),
    ).update(last_seen_at=now)


def _raise(
    rule: AlertRule,
    kind: Kind,
    params: dict,
    first_time: list[int],
    relapsed: list[int],
    *,
    today: datetime.date,
    now: datetime.datetime,
) -> tuple[int, int]:
    """Raise an alert for each customer that just turned bad, or — if an earlier alert is still
    unresolved — note on it that the condition is back. Returns (raised, seen again).

    The caller holds these customers' condition rows (inserted or locked), so no other run
    raises for them meanwhile. An unresolved alert can only be left from an earlier bad spell,
    which left a condition row: customers bad for the first time have none to look up (the
    first run over a portfolio raises hundreds of thousands). Should something outside the
    evaluation have written one anyway, the partial unique constraint refuses our insert and
    every customer is looked up."""
    existing = _unresolved(rule, relapsed)
    fresh = [pk for pk in sorted([*first_time, *relapsed]) if pk not in existing]
    observed = kind.observe(fresh, params, today) if fresh else {}
    try:
        with transaction.atomic():  # a savepoint: the refused insert is undone alone
            created = insert_alerts(rule, fresh, observed, now=now)
    except IntegrityError:
        existing = _unresolved(rule, fresh) | existing
        created = insert_alerts(rule, [pk for pk in fresh if pk not in existing], observed, now=now)
    Alert.objects.filter(pk__in=existing.values()).update(last_seen_at=now)
    AlertEvent.objects.bulk_create(
        AlertEvent(alert_id=pk, kind=AlertEventKind.SEEN_AGAIN, at=now) for pk in existing.values()
    )
    return len(created), len(existing)


def _unresolved(rule: AlertRule, customer_ids: list[int]) -> dict[int, int]:
    """The unresolved alert of each of these customers under the rule: {customer id: alert id}."""
    if not customer_ids:
        return {}
    return dict(
        Alert.objects.filter(rule=rule, customer_id__in=customer_ids, status__in=UNRESOLVED)
        .order_by()
        .values_list("customer_id", "pk")
    )
