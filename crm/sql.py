"""The kit for the project's hand-written SQL: what differs between PostgreSQL and SQLite
(``Dialect``), a collector that turns every value into a bound parameter (``Params``), the id
ranges and batch conditions set-based jobs walk a table in, and the transaction set-up of the
big rollup rebuilds.

Statements built with it are assembled from table and column names, aliases and integers; every
value goes through ``Params``, never into the SQL text. Each app keeps its own domain SQL
(customers.regrade, customers.review_schedule, risk.services.watch) and builds it from these parts.
Runs on PostgreSQL and SQLite 3.35+ (UPDATE … FROM, RETURNING)."""

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction

# A Django-compiled fragment's placeholders: "%s" takes the next value, "%%" is a literal "%".
_FORMAT_PLACEHOLDER = re.compile(r"%%|%s")


class Dialect:
    """SQL spelled for the connection's database. Only PostgreSQL and SQLite are supported."""

    def __init__(self, vendor: str):
        if vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"set-based SQL does not support {vendor}")
        self.pg = vendor == "postgresql"

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"

    def json_distinct(self, a: str, b: str) -> str:
        # jsonb compares by value; SQLite stores text, so compare the minified form.
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"json({a}) IS NOT json({b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"MIN({a}, {b})"

    def fence(self) -> str:
        """Appended to a subquery so the planner keeps it a separate step. Without it both
        databases inline the subquery and copy each expression into every place that uses it,
        so a row's points were computed again for every comparison and SET that reads the score
        or tier. (OFFSET keeps SQLite from flattening; OFFSET 0 is PostgreSQL's usual fence.)"""
        return "OFFSET 0" if self.pg else "LIMIT -1 OFFSET 0"

    def json_object(self, pairs: list[tuple[str, str]]) -> str:
        # The keys are identifiers from a registry, never user input (they are written as literals).
        inner = ", ".join(f"'{key}', {value}" for key, value in pairs)
        return f"jsonb_build_object({inner})" if self.pg else f"json_object({inner})"

    def add_days(self, date_sql: str, days_sql: str) -> str:
        if self.pg:
            return f"({date_sql} + CAST({days_sql} AS integer))"
        return f"date({date_sql}, '+' || {days_sql} || ' days')"

    def whole_years_since(self, date_sql: str, today_sql: str) -> str:
        """The SQL twin of crm.dates.whole_years_since."""
        # Whole years, never negative; 365.25 days a year on both databases. (Explicit NULL
        # test: PostgreSQL's GREATEST ignores NULL and would turn "no record" into 0 years.)
        if self.pg:
            years = f"GREATEST(0, FLOOR((CAST({today_sql} AS date) - {date_sql}) / 365.25))"
        else:
            years = f"MAX(0, CAST((julianday({today_sql}) - julianday({date_sql})) / 365.25 AS INTEGER))"
        return f"(CASE WHEN {date_sql} IS NULL THEN NULL ELSE {years} END)"


class Params(dict[str, Any]):
    """Named query parameters; ``add`` stores a value and returns its placeholder, so the SQL
    can be assembled in any order. Pass the collector itself as the statement's parameters."""

    def add(self, value: Any) -> str:
        # Adapted as the ORM would: SQLite stores dates, datetimes and decimals as text.
        ops = connection.ops
        if isinstance(value, datetime):
            value = ops.adapt_datetimefield_value(value)
        elif isinstance(value, date):
            value = ops.adapt_datefield_value(value)
        elif isinstance(value, Decimal):
            value = ops.adapt_decimalfield_value(value)
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s"

    def number(self, value: Any) -> str:
        # Typed, so SQLite compares numbers with numbers even against computed expressions.
        return f"CAST({self.add(value)} AS NUMERIC)"

    def add_list(self, values: Iterable[Any]) -> str:
        """``(%(p1)s, %(p2)s, …)`` for an ``IN``: one parameter per value."""
        return "(" + ", ".join(self.add(value) for value in values) + ")"

    def embed(self, sql: str, params: Sequence[Any]) -> str:
        """A fragment Django compiled with positional ``%s`` placeholders (``connection.ops``
        helpers, a queryset's SQL), its values moved into this collector: a statement cannot mix
        positional and named placeholders, and the values must stay parameters."""
        values = iter(params)
        count = sum(1 for match in _FORMAT_PLACEHOLDER.finditer(sql) if match.group() == "%s")
        if count != len(params):
            raise ValueError(f"{count} placeholders for {len(params)} parameters")
        return _FORMAT_PLACEHOLDER.sub(lambda m: m.group() if m.group() == "%%" else self.add(next(values)), sql)


def id_ranges(queryset: models.QuerySet, size: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) ranges of ``size`` ids covering the queryset's table, for batch-wise updates.
    Ranges, not pages of ids: a batch costs one index range scan however sparse the ids are."""
    bounds = queryset.aggregate(lo=models.Min("id"), hi=models.Max("id"))
    if bounds["lo"] is None:
        return
    for lo in range(bounds["lo"], bounds["hi"] + 1, size):
        yield lo, min(lo + size, bounds["hi"] + 1)


def id_batch(
    p: Params, *, lo: int | None = None, hi: int | None = None, ids: Iterable[int] | None = None
) -> Callable[[str], str]:
    """The condition "in this batch" (``lo <= id < hi``, or one of ``ids``) for any table alias:
    a statement repeats it for each alias that must be held to the batch (PostgreSQL does not
    carry it across a join on id). The values are bound once and shared by every use."""
    if ids is not None:
        members = p.add_list(ids)
        return lambda alias: f"{alias}.id IN {members}"
    if lo is None or hi is None:
        raise ValueError("give lo and hi, or ids")
    low, high = p.add(lo), p.add(hi)
    return lambda alias: f"{alias}.id >= {low} AND {alias}.id < {high}"


@contextmanager
def rebuild_transaction() -> Iterator[None]:
    """The transaction of a rollup rebuild that reads millions of rows in a few big grouping
    statements. On PostgreSQL, and for this transaction only (SET LOCAL):

    - REPEATABLE READ: every statement sees the same snapshot, so a row changed mid-rebuild is
      counted consistently — as it was everywhere or as it is everywhere. Only when this is the
      outermost transaction: inside another the level is the caller's, and PostgreSQL refuses
      to change it once a query has run;
    - work_mem 128 MB: the hash aggregates spill to disk with the default 4 MB;
    - no JIT: compiling the long expressions costs seconds and saves nothing here.

    SQLite needs none of it: its transactions (BEGIN IMMEDIATE, config/settings.py) already
    read one unchanging database, and the rest are PostgreSQL's planner settings."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if outermost:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SET LOCAL work_mem = '128MB'")
                cursor.execute("SET LOCAL jit = off")
        yield


# --- Statistics ------------------------------------------------------------------------------------
# As PostgreSQL's autovacuum decides (autovacuum_analyze_threshold and _scale_factor): a table
# whose rows changed by more than this since its last ANALYZE has statistics worth renewing.
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE_FACTOR = 0.1


def analyze_stale(*models_: type[models.Model], vacuum: bool = False) -> list[str]:
    """ANALYZE those of the models' tables that a job's bulk writes have changed by more than a
    tenth since their last ANALYZE; returns their names.

    ``vacuum``: on PostgreSQL, ``VACUUM (ANALYZE)`` them instead, for a table a job rewrites in
    place. Every page it wrote has lost its all-visible mark, and until VACUUM sets it again
    the index-only counts over that table read the table too. Autovacuum cannot be relied on
    for it: the in-place updates leave few dead rows to trigger it (pruned as pages are read),
    and it may be off. Measured at 1M customers after a full re-grade: the dashboard's watch-list
    count 220 ms (165,671 rows read from the table), 9 ms after a VACUUM (ANALYZE) of 4.8 s.
    Not inside a transaction, where PostgreSQL cannot VACUUM: there it is ANALYZE.

    A set-based job can insert or rewrite hundreds of thousands of rows in minutes (the first
    alert evaluation, a re-grade after a scorecard publication), and the planner keeps planning
    with the statistics of before until autovacuum comes by — or never, where it is off. The
    dashboard's "alerts to act on" was planned for 1 row and met 11,011. SQLite keeps no count
    of changed rows: there every table is analysed (small databases; a few milliseconds)."""
    tables = [m._meta.db_table for m in models_]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # counts cached by this transaction
            cursor.execute(
                "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname = ANY(%s) AND s.n_mod_since_analyze > %s + %s * GREATEST(c.reltuples, 0)",
                [tables, ANALYZE_THRESHOLD, ANALYZE_SCALE_FACTOR],
            )
            tables = [row[0] for row in cursor.fetchall()]
        tables = sorted(tables)
        vacuum = vacuum and connection.vendor == "postgresql" and not connection.in_atomic_block
        command = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
        for table in tables:
            cursor.execute(f"{command} {connection.ops.quote_name(table)}")
    return tables


def planned_rows(queryset: models.QuerySet) -> int:
    """How many rows PostgreSQL expects ``queryset`` to return, read from its plan (EXPLAIN; the
    query is not run): a millisecond, where a count of an RM's book or a team's could take a
    hundred."""
    plan = queryset.order_by().values("pk").explain(format="json")
    return round(json.loads(plan)[0]["Plan"]["Plan Rows"])


def brin_summarize(*models_: type[models.Model]) -> int:
    """Summarise the pages appended to the models' tables into their block range (BRIN) indexes;
    returns the number of ranges summarised. A BRIN index learns of new pages only at VACUUM
    (or through autovacuum's autosummarize, which does nothing where autovacuum is off); until
    then every lookup reads all of them. After a job appends many rows (a re-grade's grades)
    this reads only the new pages. PostgreSQL only: 0 elsewhere."""
    if connection.vendor != "postgresql":
        return 0
    tables = [m._meta.db_table for m in models_]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(brin_summarize_new_values(i.indexrelid)), 0) FROM pg_index i"
            " JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_am a ON a.oid = x.relam"
            " JOIN pg_class t ON t.oid = i.indrelid WHERE a.amname = 'brin' AND t.relname = ANY(%s)",
            [tables],
        )
        return int(cursor.fetchone()[0])


# --- Yielding to people -------------------------------------------------------------------------
# The web server's database sessions carry this application name (config/wsgi.py sets it before
# the settings are read), so that background work can tell people's requests from other jobs.
WEB_APPLICATION = "crm-web"


def people_are_busy() -> bool:
    """Whether the web server's sessions are at work in this database now or were a moment
    ago: one is running a query or in a transaction, or changed state within the last second.
    Always False on SQLite, which cannot tell. PostgreSQL shows a session's state only to its
    own database user (or to pg_read_all_stats): run the web server and the workers as one
    user, or the workers never see anyone and never pause."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = %s AND pid <> pg_backend_pid()
                    AND (state <> 'idle' OR state_change > now() - interval '1 second')
            )
            """,
            [WEB_APPLICATION],
        )
        return bool(cursor.fetchone()[0])


def yield_to_people(worked: float) -> float:
    """After a batch of heavy background work that took ``worked`` seconds: while people are
    using the site, pause ``settings.BACKGROUND_YIELD`` times as long, so that the batch work
    takes about 1 / (1 + BACKGROUND_YIELD) of a core and their pages keep the rest; on an idle
    site, not at all. Returns the seconds paused."""
    from django.conf import settings

    pause = worked * settings.BACKGROUND_YIELD
    if pause <= 0 or not people_are_busy():
        return 0.0
    time.sleep(pause)
    return pause
