"""Benchmark the set-based portfolio re-grade against the floor of rewriting every row once.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/regrade.py --customers 100000

Creates the database if needed, migrates it, wipes earlier bench customers, seeds N customers
with full grading inputs (COPY on PostgreSQL, bulk inserts on SQLite) and then times, in one run:

    0. the initial grading of the unrated portfolio,
    a. the full re-grade after publishing a scorecard that moves many customers,
    b. a re-run with nothing changed (must write 0 rows),
    c. the floor: one UPDATE that rewrites every customer row once.

    DATABASE_URL=… bench/regrade.py --customers 1000000 --reuse --workers 2   # again, as 2 workers run it

Targets (PostgreSQL, 2 cores, 1,000,000 customers): (a) under 30 s including its history rows,
with --workers 2 (the fanned-out job on a worker of concurrency 2); (b) writes nothing; peak
memory flat as N grows from 100,000 to 1,000,000. (c) is no longer a bound: since the customer
table has fillfactor 50 the plain UPDATE is done in place (HOT) — 7 s against 82-124 s before.
--reuse keeps a graded portfolio of the same size (the change is then the previous scorecard
published back); --wal-compression sets that PostgreSQL setting on the run's connections.

On PostgreSQL every timed step starts from the same state — table vacuumed and analysed, a fresh
checkpoint — so (a) and (c) pay for the same things and nightly autovacuum timing is no factor.
The database name must contain "bench" (the run truncates the customer table) unless
--allow-any-database is given.
"""

import argparse
import os
import random
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()  # models can only be imported once Django is configured

from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.db.models import Count, F, Field  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Team, User  # noqa: E402
from crm.sql import id_ranges  # noqa: E402
from customers.choices import CreditRating, CustomerStatus, Industry, IndustryPosition, Tier  # noqa: E402
from customers.credit_code import ALPHABET, make_credit_code  # noqa: E402
from customers.grading import validate  # noqa: E402
from customers.models import Customer, Grade, GradeReason, Scorecard, ScorecardStatus  # noqa: E402
from customers.regrade import BATCH_SIZE, RegradeResult, active_scorecard, regrade, regrade_range  # noqa: E402
from customers.services import scorecard_copy  # noqa: E402

SEED = 20260601
BENCH_NAME = "bench"  # team, user and scorecard names carry it, so a re-run can find and remove them
COPY_CHUNK = 100_000  # rows per COPY statement (and transaction) on PostgreSQL
INSERT_CHUNK = 5_000  # rows per executemany on SQLite
# The published change: weight moves from cooperation to leverage and both cut-offs move, so
# scores shift for almost everyone and a good share of customers cross a tier boundary.
NEW_WEIGHTS = {"cooperation_years": -5, "debt_ratio": +5}
NEW_CUTOFF_AA = Decimal("77.00")
NEW_CUTOFF_A = Decimal("62.00")
CHANGED_NAME = f"{BENCH_NAME}: moved weights and cut-offs"

# Looked up once: Choices.values builds a new list on every access, which showed in seeding.
INDUSTRIES = Industry.values
POSITIONS = IndustryPosition.values  # best first
RATINGS = CreditRating.values  # best first
STATUSES = CustomerStatus.values  # prospect, active, dormant, closed
STATUS_WEIGHTS = [30, 50, 15, 5]
UNRATED = Tier.UNRATED.value
NAME_WORDS = ["Huaxin", "Zhongtai", "Xinyuan", "Guofeng", "Changhe", "Dongsheng", "Haixing", "Jinqiao", "Tianrun"]
NAME_KINDS = ["Energy", "Infrastructure", "Water", "Power", "Transport", "Holdings", "Development", "Resources"]


# --- environment --------------------------------------------------------------------------------
def database_name() -> str:
    return str(connection.settings_dict["NAME"])


def ensure_database() -> None:
    """Create the PostgreSQL database if it is missing (SQLite creates its file on connect)."""
    if connection.vendor == "sqlite":
        Path(database_name()).parent.mkdir(parents=True, exist_ok=True)
        return
    import psycopg
    from psycopg import sql

    settings = connection.settings_dict
    params = {key: settings[name] for key, name in [("host", "HOST"), ("port", "PORT"), ("user", "USER")]}
    params["password"] = settings.get("PASSWORD")
    params = {key: value for key, value in params.items() if value}
    # CREATE DATABASE cannot run inside a transaction, so talk to the maintenance db directly.
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name()]).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name())))


def wipe() -> None:
    """Empty the customer and grade tables (and whatever hangs off them) and remove the bench's
    scorecards, putting back the version they replaced, so every run starts from the same state."""
    tables = [Customer._meta.db_table, Grade._meta.db_table]
    # TRUNCATE … RESTART IDENTITY CASCADE on PostgreSQL, DELETE plus sequence reset on SQLite.
    connection.ops.execute_sql_flush(
        connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    )
    with transaction.atomic():
        for card in Scorecard.objects.filter(name__startswith=BENCH_NAME):
            source = int(card.notes.rstrip(".").rsplit("v", 1)[1])  # scorecard_copy notes "Copied from vN."
            was_active = card.status == ScorecardStatus.ACTIVE
            card.delete()  # first, so the one-active-scorecard constraint lets the source back in
            if was_active:
                Scorecard.objects.filter(version=source).update(status=ScorecardStatus.ACTIVE, published_at=None)


def bench_user() -> User:
    """The relationship manager (and team) every bench customer belongs to."""
    team, _ = Team.objects.get_or_create(name=f"{BENCH_NAME} team")
    user, _ = User.objects.get_or_create(username=f"{BENCH_NAME}-rm", defaults={"team": team})
    return user


def settle() -> None:
    """Same starting point for each timed step on PostgreSQL: no dead rows, fresh statistics,
    dirty pages flushed — so a step does not pay for the previous step's garbage or WAL."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Customer._meta.db_table}, {Grade._meta.db_table}")
        cursor.execute("CHECKPOINT")


# --- seeding ------------------------------------------------------------------------------------
def credit_code(index: int) -> str:
    """A valid, unique code: fixed prefix and region, then the index in base 31."""
    digits = []
    for _ in range(9):
        index, rest = divmod(index, len(ALPHABET))
        digits.append(ALPHABET[rest])
    return make_credit_code("91110000" + "".join(reversed(digits)))


def customer_rows(n: int, *, owner_id: int, team_id: int, now: datetime) -> Iterator[dict[str, object]]:
    """N customers' column values (by attname), lazily, from a fixed seed.

    One hidden quality q in [0, 1] drives every input with noise, so inputs correlate the way
    real ones do and scores spread over all tiers; about 3% lack one input and stay Unrated."""
    rng = random.Random(SEED)
    today = timezone.localdate(now)

    def noisy(q: float, spread: float = 0.25) -> float:
        return min(1.0, max(0.0, q + rng.gauss(0, spread)))

    def maybe(value: object, missing: float = 0.005) -> object:
        return None if rng.random() < missing else value

    def days_ago(days: float) -> date:
        return today - timedelta(days=int(days))

    for i in range(n):
        q = rng.random()
        yield {
            "code": uuid.UUID(int=rng.getrandbits(128), version=4),
            "name": f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_KINDS)} Co., Ltd. {i:07d}",
            "credit_code": credit_code(i),
            "industry": rng.choice(INDUSTRIES),
            "registered_capital": int(10 ** rng.gauss(7.4 + 2.0 * q, 0.5)),
            "industry_position": POSITIONS[min(3, int((1 - noisy(q)) * 4))],
            "credit_rating": "" if rng.random() < 0.5 else RATINGS[min(9, int((1 - noisy(q)) * 7))],
            "owner_id": owner_id,
            "team_id": team_id,
            "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            "bureau_rating": maybe(RATINGS[min(9, int((1 - noisy(q)) * 7))], 0.01) or "",
            "has_litigation": maybe(rng.random() < 0.35 * (1 - q)),
            "overdue_count": maybe(int(rng.expovariate(1 / (0.2 + 3 * (1 - q))))),
            "debt_ratio": round(min(1.5, max(0.05, 0.95 - 0.6 * noisy(q))), 4),
            "current_ratio": round(0.4 + 2.2 * noisy(q), 4),
            "project_amount": maybe(int(10 ** rng.gauss(8.0 + 0.6 * q, 0.6))),
            "cooperation_since": maybe(days_ago(rng.expovariate(1 / (300 + 2000 * q)))),
            "credit_report_date": days_ago(rng.uniform(0, 400)),
            "statement_date": days_ago(rng.uniform(0, 500)),
            "funding_need_date": days_ago(rng.uniform(0, 300)),
            "tier": UNRATED,
            "computed_tier": UNRATED,
            "previous_tier": "",
            "override_tier": "",
            "last_review_date": days_ago(rng.uniform(0, 365)),
            "created_at": now,
            "updated_at": now,
        }


def chunks(items: Iterator[list[object]], size: int) -> Iterator[Iterator[list[object]]]:
    """Consecutive runs of ``size`` items, each an iterator too, so no chunk is ever held in a
    list (each must be used up before the next is asked for)."""
    for first in items:
        yield chain([first], islice(items, size - 1))


def customer_fields() -> list[Field]:
    return [f for f in Customer._meta.concrete_fields if not f.primary_key]


def column_values(rows: Iterator[dict[str, object]], fields: list[Field]) -> Iterator[list[object]]:
    """Rows in column order. Columns the generator does not know (added to the model after this
    script was written) get the field's default, so the bench keeps working as the model grows."""
    defaults: dict[str, object] | None = None
    for row in rows:
        if defaults is None:
            defaults = {f.attname: f.get_default() for f in fields if f.attname not in row}
        yield [row[f.attname] if f.attname in row else defaults[f.attname] for f in fields]


def copy_customers(rows: Iterator[dict[str, object]]) -> None:
    """PostgreSQL: COPY, one statement (and transaction) per chunk, each row made as it is sent."""
    fields = customer_fields()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    statement = f"COPY {Customer._meta.db_table} ({columns}) FROM STDIN"
    for chunk in chunks(column_values(rows, fields), COPY_CHUNK):
        with transaction.atomic(), connection.cursor() as cursor, cursor.copy(statement) as copy:
            for values in chunk:
                copy.write_row(values)


def insert_customers(rows: Iterator[dict[str, object]]) -> None:
    """SQLite (no COPY): one executemany per chunk. Not bulk_create: SQLite's 999-parameter
    limit would cut it to 29 rows per statement and make seeding several times slower."""
    fields = customer_fields()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    statement = f"INSERT INTO {Customer._meta.db_table} ({columns}) VALUES ({placeholders})"  # noqa: S608
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the `connection` proxy is slow per value
    for chunk in chunks(column_values(rows, fields), INSERT_CHUNK):
        # The field adapts each value (uuid as hex, aware datetimes as UTC text) as save() would.
        values = [[f.get_db_prep_save(v, db) for f, v in zip(fields, row, strict=True)] for row in chunk]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(statement, values)


def seed(n: int, *, owner: User) -> None:
    rows = customer_rows(n, owner_id=owner.pk, team_id=owner.team_id, now=timezone.now())
    if connection.vendor == "postgresql":
        copy_customers(rows)
    else:
        insert_customers(rows)


# --- the scorecard change -----------------------------------------------------------------------
def publish_changed_scorecard(*, by: User) -> Scorecard:
    """Copy the active scorecard (the admin's "copy to draft"), move weights and cut-offs, and
    publish it. Published by hand rather than with scorecard_publish(): that service also queues
    the re-grade on the broker, and here the re-grade is what is being timed, in this process."""
    old = active_scorecard()
    assert old is not None, "the data migration ships an active scorecard"
    with transaction.atomic():
        draft = scorecard_copy(scorecard=old, by=by)
        for criterion in draft.criteria.filter(attribute__in=NEW_WEIGHTS):
            criterion.weight += NEW_WEIGHTS[criterion.attribute]
            criterion.save(update_fields=["weight"])
        draft.name = CHANGED_NAME  # wipe() finds it by this name
        draft.cutoff_aa, draft.cutoff_a = NEW_CUTOFF_AA, NEW_CUTOFF_A
        draft.save(update_fields=["name", "cutoff_aa", "cutoff_a"])
        errors = validate(draft.spec())
        assert not errors, errors
        # Retire first: only one scorecard may be active at any moment.
        Scorecard.objects.filter(pk=old.pk).update(status=ScorecardStatus.RETIRED)
        Scorecard.objects.filter(pk=draft.pk).update(
            status=ScorecardStatus.ACTIVE, published_at=timezone.now(), published_by=by
        )
    draft.refresh_from_db()
    return draft


# --- measuring ----------------------------------------------------------------------------------
def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_rss_peak() -> bool:
    """Linux lets a process reset its high-water mark, which makes a per-step peak measurable."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    written: int | None = None
    grades: int | None = None
    peak_before: float = 0.0  # MiB: process high-water mark when the step starts
    peak_during: float = 0.0  # MiB: high-water mark at its end (reset at its start where possible)


class Meter:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.process_peak = rss_peak_mib()  # resets hide earlier peaks, so keep the maximum here

    def run(self, name: str, work: Callable[[], tuple[int, int] | None]) -> Step:
        settle()
        step = Step(name, peak_before=rss_peak_mib())
        self.process_peak = max(self.process_peak, step.peak_before)
        reset_rss_peak()
        started = time.perf_counter()
        counts = work()
        step.seconds = time.perf_counter() - started
        step.peak_during = rss_peak_mib()
        self.process_peak = max(self.process_peak, step.peak_during)
        if counts is not None:
            step.written, step.grades = counts
        self.steps.append(step)
        return step


def timed_regrade(reason: str, workers: int = 1) -> Callable[[], tuple[int, int]]:
    """The portfolio re-grade, in this process (workers=1) or, as the fanned-out job runs it
    (customers.tasks.portfolio_regrade), as id-range batches taken by ``workers`` at once, each
    with its own database connection — what that many worker processes do."""

    def work() -> tuple[int, int]:
        if workers == 1:
            result = regrade(reason=reason)
            return result.written, result.grades
        batches = list(id_ranges(Customer.objects.all(), BATCH_SIZE))

        def one(batch: tuple[int, int]) -> RegradeResult:
            try:
                return regrade_range(lo=batch[0], hi=batch[1], reason=reason)
            finally:
                connection.close()  # this thread's own connection

        total = RegradeResult()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(one, batches):
                total += result
        return total.written, total.grades

    return work


def floor_update() -> tuple[int, int]:
    """The least any full re-grade can cost: every customer row rewritten once, one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Customer._meta.db_table} SET score = score")  # noqa: S608 (no input)
        return cursor.rowcount, 0


def tier_counts() -> dict[str, int]:
    rows = Customer.objects.values("tier").annotate(n=Count("id")).order_by()
    return {row["tier"]: row["n"] for row in rows}


# --- report -------------------------------------------------------------------------------------
def fmt(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def report(n: int, meter: Meter, before: dict[str, int], after: dict[str, int], moved: int, *, workers: int) -> None:
    steps = {s.name[0]: s for s in meter.steps}
    regraded, rerun, floor = steps["a"], steps["b"], steps["c"]
    print(
        f"\nre-grade benchmark: {connection.vendor} ({database_name()}), {n:,} customers, "
        f"(a) and (b) on {workers} connection(s)\n"
    )
    print(f"{'step':<30} {'seconds':>8} {'cust/s':>10} {'rows written':>13} {'grade rows':>11} {'peak MiB':>9}")
    for s in meter.steps:
        rate = f"{n / s.seconds:,.0f}" if s.seconds else "-"
        print(
            f"{s.name:<30} {s.seconds:>8.2f} {rate:>10} {fmt(s.written):>13} {fmt(s.grades):>11} {s.peak_during:>9.1f}"
        )
    tiers = [Tier.AA, Tier.A, Tier.B, Tier.UNRATED]
    print("\ntiers before (a): " + ", ".join(f"{t} {before.get(t, 0):,}" for t in tiers))
    print("tiers after (a):  " + ", ".join(f"{t} {after.get(t, 0):,}" for t in tiers))
    print(f"customers that changed tier in (a): {moved:,} ({moved / n:.1%})")
    ratio = regraded.seconds / floor.seconds
    print(f"ratio (a)/(c): {ratio:.2f}")
    print(
        f"peak RSS: process {meter.process_peak:.1f} MiB; before (a) {regraded.peak_before:.1f} MiB, "
        f"during (a) {regraded.peak_during:.1f} MiB"
    )
    print("\ntargets (set for PostgreSQL on 2 cores at 1,000,000 customers):")
    # SQLite's floor rewrites only the table b-tree (no index holds score), while the re-grade
    # changes indexed columns and appends history, so the time targets say nothing there.
    pg = connection.vendor == "postgresql"
    at_scale = n >= 1_000_000
    print(f"  (a) under 30 s:           {verdict(regraded.seconds < 30, pg and at_scale)} ({regraded.seconds:.1f} s)")
    print(f"  (b) writes 0 rows:        {verdict(rerun.written == 0, True)} ({fmt(rerun.written)})")
    print(f"  (a)/(c), for reference:   {ratio:.2f}x (the floor updates in place since fillfactor 50)")
    print("  memory flat in N:         compare peak MiB of runs with different --customers")


def verdict(met: bool, applies: bool) -> str:
    if not applies:
        return f"n/a ({connection.vendor}, the target is for PostgreSQL at 1,000,000)"
    return "met" if met else "MISSED"


def restore_scorecard() -> bool:
    """Put back the scorecard a bench card replaced (its grades then all differ again: the same
    change in reverse). False if no bench card is active."""
    active = active_scorecard()
    if active is None or not active.name.startswith(BENCH_NAME):
        return False
    source = int(active.notes.rstrip(".").rsplit("v", 1)[1])  # scorecard_copy notes "Copied from vN."
    with transaction.atomic():
        Scorecard.objects.filter(pk=active.pk).update(status=ScorecardStatus.RETIRED)
        Scorecard.objects.filter(version=source).update(status=ScorecardStatus.ACTIVE, published_at=timezone.now())
    return True


def graded(n: int) -> bool:
    """Whether the database holds N customers graded once (for --reuse)."""
    return Customer.objects.count() == n and Customer.objects.filter(graded_at__isnull=False).exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000, help="portfolio size N (default 100,000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="(a) as the fanned-out job runs it: batches taken by this many connections at once (default 1)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep N graded customers already there (skips 0)")
    parser.add_argument(
        "--wal-compression",
        choices=["off", "pglz", "lz4", "zstd"],
        help="PostgreSQL: SET wal_compression on every connection of the run (default: the server's setting)",
    )
    parser.add_argument(
        "--allow-any-database", action="store_true", help="run even if the database name lacks 'bench' (it is wiped)"
    )
    args = parser.parse_args(argv)
    if BENCH_NAME not in database_name() and not args.allow_any_database:
        parser.error(f"refusing to wipe {database_name()!r}: point DATABASE_URL at a database named *bench*")

    ensure_database()
    if args.wal_compression:
        # Full-page images are most of a re-grade's WAL (70 MB of it per 20,000-customer batch
        # right after a checkpoint); a server would set this in postgresql.conf.
        def compress(sender, connection, **kwargs) -> None:
            with connection.cursor() as cursor:
                cursor.execute(f"SET wal_compression = {args.wal_compression}")

        connection_created.connect(compress, weak=False)
        connection.close()  # the next query opens a connection that has it
    call_command("migrate", verbosity=0)
    meter = Meter()
    user = bench_user()
    if args.reuse and graded(args.customers):
        print(f"--reuse: {args.customers:,} graded customers are there; seeding and (0) skipped", flush=True)
    else:
        wipe()
        meter.run("seed (insert N customers)", lambda: seed(args.customers, owner=user))
        meter.run("0  initial grading", timed_regrade(GradeReason.SCHEDULED))
    before = tier_counts()
    started = timezone.now()
    # The change: a new version moving weights and cut-offs, or (on a database where the last
    # run left that version active) the old version back, which moves everyone back.
    if not restore_scorecard():
        publish_changed_scorecard(by=user)
    meter.run("a  re-grade, new scorecard", timed_regrade(GradeReason.SCORECARD_PUBLISHED, args.workers))
    after = tier_counts()
    moved = (
        Grade.objects.filter(reason=GradeReason.SCORECARD_PUBLISHED, created_at__gte=started)
        .exclude(tier=F("previous_tier"))
        .count()
    )
    meter.run("b  re-run, nothing changed", timed_regrade(GradeReason.SCHEDULED, args.workers))
    meter.run("c  floor: UPDATE every row", floor_update)
    report(args.customers, meter, before, after, moved, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
