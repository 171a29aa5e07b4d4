"""Set-based grading: the scorecard compiled to SQL.

The whole portfolio is re-graded in id-range batches; each batch is one ``UPDATE … FROM
(SELECT …)`` that computes every customer's points, score, tier, effective tier (overrides),
credit limit and next review date in the database and writes only the rows where one of them
changed, followed by one ``INSERT … SELECT`` that appends the grade history of the rows whose
tier, computed tier or score changed. No customer row travels to Python, so memory stays flat
whatever the portfolio size.

customers.grading.grade() is the same method in Python; tests hold the two to the same answers.
Runs on PostgreSQL and SQLite (3.35+: UPDATE … FROM, RETURNING); the few differences are in
``crm.sql.Dialect``. The next review date follows customers.review_schedule, the rule risk.services.watch
uses too.
"""

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm.dates import whole_years_since
from crm.sql import Dialect, Params, id_batch, id_ranges, people_are_busy, yield_to_people
from customers.choices import Tier
from customers.grading import ATTRIBUTES, CATEGORICAL, GradeResult, ScorecardSpec, grade
from customers.models import Customer, Grade, Scorecard, ScorecardStatus
from customers.review_schedule import next_review_sql, scheduled_review_sql
from customers.tier_policies import policies_by_tier, policy_case

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000
TABLE = Customer._meta.db_table
GRADE_TABLE = Grade._meta.db_table


def attribute_sql(name: str, d: Dialect, p: Params, today: date, alias: str) -> str:
    column = f"{alias}.{ATTRIBUTES[name].column}"
    if name == "has_litigation":
        return f"CASE WHEN {column} THEN 'yes' WHEN NOT {column} THEN 'no' END"
    if name == "cooperation_years":
        return d.whole_years_since(f"{alias}.cooperation_since", p.add(today))
    if ATTRIBUTES[name].kind == CATEGORICAL:
        return f"NULLIF({column}, '')"
    return column


def customer_inputs(customer: Customer, today: date) -> dict:
    """The attribute values grading reads from a customer row (the Python path)."""
    values = {name: getattr(customer, a.column, None) for name, a in ATTRIBUTES.items() if name != "cooperation_years"}
    values["cooperation_years"] = whole_years_since(customer.cooperation_since, today)
    return values


def points_sql(criterion, d: Dialect, p: Params, today: date, alias: str) -> str:
    value = attribute_sql(criterion.attribute, d, p, today, alias)
    if ATTRIBUTES[criterion.attribute].kind == CATEGORICAL:
        whens = " ".join(f"WHEN {p.add(b.category)} THEN {int(b.points)}" for b in criterion.bands)
        return f"(CASE {value} {whens} END)"
    whens = []
    for band in criterion.bands:
        conditions = [f"{value} IS NOT NULL"]
        if band.lower is not None:
            conditions.append(f"{value} >= {p.number(band.lower)}")
        if band.upper is not None:
            conditions.append(f"{value} < {p.number(band.upper)}")
        whens.append(f"WHEN {' AND '.join(conditions)} THEN {int(band.points)}")
    return f"(CASE {' '.join(whens)} END)"


def graded_rows_sql(spec: ScorecardSpec, d: Dialect, p: Params, *, now: datetime, where: str) -> str:
    """A SELECT of the new grade of every customer matching ``where`` (alias c1): id, old_tier,
    old_credit_limit, computed_tier, tier (overrides applied), score, breakdown, override_tier,
    override_expires_at. Shared by the re-grade UPDATE and the publish preview."""
    today = timezone.localdate(now)
    points = ", ".join(f"{points_sql(c, d, p, today, 'c1')} AS p{i}" for i, c in enumerate(spec.criteria))
    wsum = " + ".join(f"{c.weight} * g1.p{i}" for i, c in enumerate(spec.criteria))
    breakdown = d.json_object([(c.attribute, f"g1.p{i}") for i, c in enumerate(spec.criteria)])
    aa, a = int(spec.cutoff_aa * 100), int(spec.cutoff_a * 100)
    live = f"(g2.override_tier <> '' AND g2.override_expires_at > {p.add(now)})"
    # Identifiers come from the attribute registry and numbers are ints; every value is a parameter.
    return f"""
        SELECT n.*, CASE WHEN n.override_tier <> '' THEN n.override_tier ELSE n.computed_tier END AS tier
        FROM (
            SELECT g2.id, g2.old_tier, g2.old_credit_limit, g2.breakdown,
                   CASE WHEN g2.wsum IS NULL THEN '{Tier.UNRATED}' WHEN g2.wsum >= {aa} THEN '{Tier.AA}'
                        WHEN g2.wsum >= {a} THEN '{Tier.A}' ELSE '{Tier.B}' END AS computed_tier,
                   CASE WHEN g2.wsum IS NULL THEN NULL ELSE ROUND(g2.wsum / 100.0, 2) END AS score,
                   CASE WHEN {live} THEN g2.override_tier ELSE '' END AS override_tier,
                   CASE WHEN {live} THEN g2.override_expires_at END AS override_expires_at
            FROM (
                SELECT g1.id, g1.old_tier, g1.old_credit_limit, g1.override_tier, g1.override_expires_at,
                       {wsum} AS wsum, {breakdown} AS breakdown
                FROM (
                    SELECT c1.id, c1.tier AS old_tier, c1.credit_limit AS old_credit_limit,
                           c1.override_tier, c1.override_expires_at, {points}
                    FROM {TABLE} c1 WHERE {where} {d.fence()}
                ) g1 {d.fence()}
            ) g2
        ) n
    """


@dataclass
class RegradeResult:
    customers: int = 0  # rows looked at
    written: int = 0  # customer rows rewritten (grade, terms or lapsed override)
    grades: int = 0  # grade history rows appended
    paused: float = 0.0  # seconds spent yielding to people using the site (crm.sql.yield_to_people)
    transactions: int = 0  # one per batch, or per piece of one while people are busy (regrade_span)

    def __iadd__(self, other: "RegradeResult") -> "RegradeResult":
        self.customers += other.customers
        self.written += other.written
        self.grades += other.grades
        self.paused += other.paused
        self.transactions += other.transactions
        return self


def regrade_batch(
    *,
    scorecard_id: int,
    spec: ScorecardSpec,
    policies: dict,
    reason: str,
    now: datetime,
    lo: int | None = None,
    hi: int | None = None,
    ids: list[int] | None = None,
) -> RegradeResult:
    """Re-grade one batch — the customers with lo <= id < hi, or the given ids — with one UPDATE
    and one INSERT in one transaction."""
    d = Dialect(connection.vendor)
    p = Params()
    # The batch condition for a table alias; the statements repeat it for c1, c and h.
    selection = id_batch(p, lo=lo, hi=hi, ids=ids)
    rows = graded_rows_sql(spec, d, p, now=now, where=selection("c1"))
    card = p.add(scorecard_id)
    stamp = p.add(now)
    # Terms follow the new tier (e.tier): a downgrade lowers the limit in the same write.
    limit = d.least(
        f"c.registered_capital * {policy_case(policies, 'capital_multiple', p, tier='e.tier')}",
        policy_case(policies, "limit_cap", p, tier="e.tier"),
    )
    scheduled = scheduled_review_sql(d, p, policies, last_review="c.last_review_date", tier="e.tier")
    review = next_review_sql(watch="c.watch_review_by", scheduled=scheduled)
    # A grade changed — and a history row is written — only when something the grade history
    # shows changed: the tier, the computed tier or the score. The points per criterion and the
    # scorecard version are kept current on the customer, but alone they are no new grade: an
    # unrated customer whose first inputs arrive, or a new version scoring everyone the same,
    # filled the history with "Unrated → Unrated" rows.
    grade_changed = (
        "("
        + " OR ".join(
            [
                d.distinct("c.tier", "e.tier"),
                d.distinct("c.computed_tier", "e.computed_tier"),
                d.distinct("c.score", "e.score"),
            ]
        )
        + ")"
    )
    anything_changed = " OR ".join(
        [
            grade_changed,
            d.json_distinct("c.breakdown", "e.breakdown"),
            d.distinct("c.scorecard_id", card),
            d.distinct("c.override_tier", "e.override_tier"),
            d.distinct("c.override_expires_at", "e.override_expires_at"),
            d.distinct("c.credit_limit", limit),
            d.distinct("c.next_review_date", review),
        ]
    )
    # The batch condition is repeated for c: PostgreSQL does not carry it across c.id = e.id,
    # and without it every batch read the whole table to join it (N² / batch size rows in all).
    update = f"""
        UPDATE {TABLE} AS c SET
            previous_tier = CASE WHEN {grade_changed} THEN c.tier ELSE c.previous_tier END,
            previous_score = CASE WHEN {grade_changed} THEN c.score ELSE c.previous_score END,
            graded_at = CASE WHEN {grade_changed} THEN {stamp} ELSE c.graded_at END,
            tier = e.tier,
            computed_tier = e.computed_tier,
            score = e.score,
            breakdown = e.breakdown,
            scorecard_id = {card},
            override_tier = e.override_tier,
            override_expires_at = e.override_expires_at,
            credit_limit = {limit},
            next_review_date = {review}
        FROM ({rows}) e
        WHERE c.id = e.id AND {selection("c")} AND ({anything_changed})
    """
    columns = "customer_id, tier, computed_tier, previous_tier, score, breakdown, scorecard_id, reason, created_at"
    history = f"""
        INSERT INTO {GRADE_TABLE} ({columns})
        SELECT id, tier, computed_tier, previous_tier, score, breakdown, scorecard_id, %(reason)s, graded_at
        FROM {TABLE} h WHERE {selection("h")} AND h.graded_at = {stamp}
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if d.pg:
            # The statement's expressions are long and its cost estimate is over the JIT
            # threshold, so PostgreSQL compiled them afresh for every batch: seconds per batch,
            # more than the compiled code saved. SET LOCAL ends with the transaction.
            cursor.execute("SET LOCAL jit = off")
            # At the stock 4 MB a batch of 20,000 spilled its hash of new grades and the rows
            # its UPDATE returns to temporary files (~16 MB). 32 MB, for this statement only:
            # (a) of bench/regrade.py 27.4-27.9 s -> 26.3-27.0 s at 1M customers.
            cursor.execute("SET LOCAL work_mem = '32MB'")
            # One statement: the history comes from the rows the UPDATE returns, rather than
            # from reading the batch's customers a third time (a fifth of a re-grade's time).
            cursor.execute(
                f"""
                WITH changed AS ({update} RETURNING c.id, c.tier, c.computed_tier, c.previous_tier, c.score,
                                                    c.breakdown, c.scorecard_id, c.graded_at),
                history AS (
                    INSERT INTO {GRADE_TABLE} ({columns})
                    SELECT id, tier, computed_tier, previous_tier, score, breakdown, scorecard_id, %(reason)s,
                           graded_at
                    FROM changed WHERE graded_at = {stamp} RETURNING 1
                )
                SELECT (SELECT COUNT(*) FROM changed), (SELECT COUNT(*) FROM history)
                """,
                {**p, "reason": reason},
            )
            written, grades = cursor.fetchone()
        else:
            cursor.execute(update, p)
            written = cursor.rowcount
            grades = 0
            if written:
                cursor.execute(history, {**p, "reason": reason})
                grades = cursor.rowcount
    return RegradeResult(written=written, grades=grades, transactions=1)


def regrade_span(*, lo: int, hi: int, pause_after: bool, **batch) -> RegradeResult:
    """Re-grade the customers with lo <= id < hi (``batch``: regrade_batch's other arguments).

    On an idle site in one transaction. While people are using it, in pieces of
    ``settings.REGRADE_BUSY_BATCH_SIZE`` customers, each its own transaction followed by its
    pause (crm.sql.yield_to_people): the pages then meet the re-grade in short bursts rather
    than in a few long ones that hold a core, and their slowest requests grow less (README).
    A piece's customers are stamped with the same time as the rest of the span. The pause
    after the last piece is left to the caller unless ``pause_after``."""
    total = RegradeResult()
    start = lo
    while start < hi:
        end = min(start + settings.REGRADE_BUSY_BATCH_SIZE, hi) if people_are_busy() else hi
        started = time.perf_counter()
        total += regrade_batch(lo=start, hi=end, **batch)
        if end < hi or pause_after:
            total.paused += yield_to_people(time.perf_counter() - started)
        start = end
    return total


def active_scorecard() -> Scorecard | None:
    return Scorecard.objects.filter(status=ScorecardStatus.ACTIVE).first()


def regrade(
    *, reason: str, ids: list[int] | None = None, scorecard: Scorecard | None = None, batch_size: int = BATCH_SIZE
) -> RegradeResult:
    """Re-grade some customers (``ids``) or the whole portfolio with the active scorecard.

    Idempotent: a second run with nothing changed writes nothing. Each batch commits on its
    own, so an interrupted run leaves whole batches done and the next run finishes the rest.
    Between batches of the whole portfolio it yields to people using the site
    (crm.sql.yield_to_people).
    Two runs at once are safe: a row one of them rewrote no longer differs for the other."""
    scorecard = scorecard or active_scorecard()
    if scorecard is None:
        log.warning("no active scorecard: nothing graded")
        return RegradeResult()
    spec = scorecard.spec()
    policies = policies_by_tier()
    now = timezone.now()
    total = RegradeResult()
    if ids is not None:
        ids = sorted(set(ids))
        for start in range(0, len(ids), 1000):
            total += regrade_batch(
                scorecard_id=scorecard.pk,
                spec=spec,
                policies=policies,
                ids=ids[start : start + 1000],
                reason=reason,
                now=now,
            )
        total.customers = len(ids)
        return total
    ranges = list(id_ranges(Customer.objects.all(), batch_size))
    for n, (lo, hi) in enumerate(ranges):
        total += regrade_span(
            lo=lo,
            hi=hi,
            pause_after=n < len(ranges) - 1,
            scorecard_id=scorecard.pk,
            spec=spec,
            policies=policies,
            reason=reason,
            now=now,
        )
    total.customers = Customer.objects.count()
    log.info("re-graded %d customers: %d rows written, %d grades", total.customers, total.written, total.grades)
    return total


def regrade_range(*, lo: int, hi: int, reason: str) -> RegradeResult:
    """Re-grade the customers with lo <= id < hi with the scorecard and policies in force now:
    one batch of the fanned-out portfolio re-grade (customers.tasks)."""
    scorecard = active_scorecard()
    if scorecard is None:
        log.warning("no active scorecard: nothing graded")
        return RegradeResult()
    # Paused after the last piece too, before the worker takes the next batch: the pages keep
    # most of the machine meanwhile.
    result = regrade_span(
        lo=lo,
        hi=hi,
        pause_after=True,
        scorecard_id=scorecard.pk,
        spec=scorecard.spec(),
        policies=policies_by_tier(),
        reason=reason,
        now=timezone.now(),
    )
    result.customers = Customer.objects.filter(id__gte=lo, id__lt=hi).count()
    return result


def grade_customer_in_python(customer: Customer, spec: ScorecardSpec, now: datetime | None = None) -> GradeResult:
    """The pure path for one customer (explanations on the customer page, tests)."""
    return grade(customer_inputs(customer, timezone.localdate(now)), spec)
