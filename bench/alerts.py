"""Benchmark risk monitoring: one full alert evaluation over the portfolio with every rule enabled,
a second run with nothing changed, and the risk dashboard as a team manager and an RM load it.

    .venv/bin/python bench/alerts.py                                  # 1,000,000 customers, 500,000 facilities
    .venv/bin/python bench/alerts.py --reuse                          # same data again: skip seeding
    .venv/bin/python bench/alerts.py --customers 20000 --facilities 10000 --deals 8000   # quick run

The database defaults to postgres://postgres@127.0.0.1:5432/crm_bench_alerts (DATABASE_URL
overrides it); its name must contain "bench", since seeding empties the customer, deal and risk
tables. PostgreSQL only. The run:

    1. creates and migrates the database; unless --reuse finds data of the requested size, seeds
       20 teams (bench/seed.py), N customers (COPY) made to look like a monitored portfolio (97 %
       reviewed and reported on time, see MONITORED_SQL) and graded once, a pipeline of --deals deals with
       their moves (open ones past their stage's expected days are flagged stale), then one funded
       deal and facility per --facilities: drawn within the customer's credit limit (1 % above
       it), twelve monthly installments, and repayments for those already due — most on time,
       5 % late, 3 % of facilities stopped paying a few months ago. Then 2 % of customers get a
       worse credit report and a higher debt ratio and are re-graded (downgrades, score drops,
       bureau downgrades), and VACUUM ANALYZE;
    2. enables every alert rule, empties alerts and conditions, and times one full evaluation
       (risk.alerts.evaluate) — seconds, customers per second, alerts written, per rule — then a
       second evaluation with nothing changed, checking through pg_stat that it inserted,
       updated and deleted no row of the alert tables;
    3. times the other steps of the hourly job (facility limits following the tier policy,
       the watch list with the statistics the job renews) and the dashboard rollup
       (risk.dashboard.rollup_rebuild);
    4. starts gunicorn (2 sync workers, DEBUG off) and loads /risk/dashboard/ as the team manager
       of a median RM's team and as that RM: 5 warm-up requests, then --requests timed ones.

Targets (2-core machine): evaluation under 60 s, the unchanged re-run writes nothing, dashboard
p95 under 300 ms. Every response must be 200, else the page is reported as failed (exit 1).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_alerts")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from bench import pages, seed  # noqa: E402
from bench import regrade as base  # noqa: E402
from customers.choices import Tier  # noqa: E402
from customers.models import Customer  # noqa: E402
from funnel.models import Deal, StageMove  # noqa: E402
from risk.models import Alert, AlertRule, Facility, Repayment, RepaymentInstallment  # noqa: E402

TARGET_EVALUATION_S = 60
TARGET_DASHBOARD_MS = 300
DASHBOARD = "/risk/dashboard/"
ALERT_TABLES = seed.ALERT_TABLES


def seeded(customers: int, facilities: int) -> bool:
    return (
        Customer.objects.count() == customers
        and Facility.objects.count() == facilities
        and Customer.objects.exclude(tier=Tier.UNRATED).exists()
    )


def seed_all(args: argparse.Namespace, staff: seed.Staff, timings: seed.Timings) -> None:
    seed.portfolio(
        n_customers=args.customers, n_deals=args.deals, n_facilities=args.facilities, staff=staff, timings=timings
    )


def writes() -> dict[str, int]:
    """Rows inserted, updated and deleted in the alert tables so far (pg_stat, this database)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [ALERT_TABLES],
        )
        return dict(cursor.fetchall())


def stats_flushed() -> None:
    # Backends report their counters to the stats system at most once a second.
    time.sleep(1.5)


def evaluation(customers: int) -> tuple[list[str], bool]:
    from risk.alerts import evaluate

    lines: list[str] = []
    AlertRule.objects.update(enabled=True)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(ALERT_TABLES)} RESTART IDENTITY CASCADE")
    rules = list(AlertRule.objects.order_by("id"))
    met = True
    for label in ("first run", "second run, nothing changed"):
        stats_flushed()
        before = writes()
        started = time.perf_counter()
        result = evaluate()
        seconds = time.perf_counter() - started
        stats_flushed()
        after = writes()
        written = {name: after.get(name, 0) - before.get(name, 0) for name in ALERT_TABLES}
        lines.append(
            f"- {label}: {seconds:.1f} s, {customers / seconds:,.0f} customers/s; {result}; "
            f"rows written: " + ", ".join(f"{name} {n:,}" for name, n in written.items())
        )
        if label == "first run":
            met &= seconds < TARGET_EVALUATION_S
            per_rule = dict(Alert.objects.values_list("rule_id").annotate(n=Count("id")))
            for rule in rules:
                lines.append(f"    - {rule.name} ({rule.kind}): {per_rule.get(rule.pk, 0):,} alerts")
        else:
            met &= not any(written.values()) and result["raised"] == 0
    return lines, met


def job_steps(timings: seed.Timings) -> None:
    from risk.services import watch
    from risk.tasks import watch_refresh_step

    with timings.step("facility limits follow the tier policy (risk.services.watch)"):
        watch.facility_limits_follow()
    with timings.step("facility limits again, nothing changed"):
        watch.facility_limits_follow()
    # As the job runs it: the statistics of the tables the evaluation and the refresh wrote are
    # renewed too, so the dashboard measured after it plans as it will after the hourly run.
    with timings.step("watch list refresh, with its ANALYZE (risk.tasks.watch_refresh)"):
        watch_refresh_step()
    with timings.step("watch list refresh again, nothing changed"):
        watch_refresh_step()
    with timings.step("evaluation again, nothing changed, batches on 2 connections (the hourly job, 2 workers)"):
        evaluate_fanned(workers=2)


def evaluate_fanned(*, workers: int) -> dict:
    """The hourly evaluation as risk.tasks runs it: id-range batches of ALERTS_BATCH_SIZE
    customers taken by ``workers`` connections at once, as that many worker processes take the
    alerts_evaluate_batch jobs."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.utils import timezone

    from crm.sql import id_ranges
    from risk.alerts import evaluate

    today = timezone.localdate()

    def one(batch: tuple[int, int]) -> dict:
        try:
            return evaluate(lo=batch[0], hi=batch[1], today=today)
        finally:
            connection.close()  # this thread's own connection

    totals: dict[str, int] = {}
    batches = list(id_ranges(Customer.objects.all(), settings.ALERTS_BATCH_SIZE))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(one, batches):
            for key, value in result.items():
                totals[key] = totals.get(key, 0) + value
    return totals


def dashboard_rollup(timings: seed.Timings) -> None:
    from risk.dashboard import rollup_rebuild

    with timings.step("dashboard rollup (risk.dashboard.rollup_rebuild)"):
        rollup_rebuild()


def measure_dashboard(port: int, users: dict, args: argparse.Namespace) -> list[pages.Result]:
    results = []
    pages.TARGET_MS["dashboard"] = TARGET_DASHBOARD_MS
    for label, user in users.items():
        browser = pages.Browser(port, pages.session_for(user))
        results.append(
            pages.measure(browser, "dashboard", label, DASHBOARD, warmup=args.warmup, requests=args.requests)
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers (default 1,000,000)")
    parser.add_argument("--facilities", type=int, default=500_000, help="facilities (default 500,000)")
    parser.add_argument("--deals", type=int, default=400_000, help="pipeline deals (default 400,000)")
    parser.add_argument("--reuse", action="store_true", help="skip seeding if data of this size is there")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per user (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        parser.error("PostgreSQL only: point DATABASE_URL at a PostgreSQL database named *bench*")
    if "bench" not in base.database_name():
        parser.error(f"refusing to wipe {base.database_name()!r}: point DATABASE_URL at a database named *bench*")

    timings = seed.Timings()
    print(f"database {base.database_name()}")
    base.ensure_database()
    with timings.step("migrate"):
        call_command("migrate", verbosity=0)
    staff = seed.staff()
    if args.reuse and seeded(args.customers, args.facilities):
        print("  --reuse: data of this size is there, seeding skipped")
        with timings.step("VACUUM ANALYZE, CHECKPOINT"):
            seed.vacuum_analyze()
    else:
        seed_all(args, staff, timings)
    customers = Customer.objects.count()
    print(
        f"\nrows: {customers:,} customers, {Deal.objects.count():,} deals, {StageMove.objects.count():,} moves, "
        f"{Facility.objects.count():,} facilities, {RepaymentInstallment.objects.count():,} installments, "
        f"{Repayment.objects.count():,} repayments",
        flush=True,
    )

    print("\nevaluating every rule …", flush=True)
    lines, evaluation_met = evaluation(customers)
    print("\n".join(lines), flush=True)
    job_steps(timings)
    dashboard_rollup(timings)

    rm, manager = pages.typical_users(staff)
    users = {"team manager": manager, "RM": rm}
    port = pages.free_port()
    log = Path(tempfile.gettempdir()) / f"bench_alerts_gunicorn_{port}.log"
    print(f"\ngunicorn on 127.0.0.1:{port} (2 sync workers, DEBUG off), log {log}", flush=True)
    load_before = os.getloadavg()[0]
    with pages.gunicorn(port, log):
        results = measure_dashboard(port, users, args)
    load_after = os.getloadavg()[0]

    print(f"\n## Seeding and jobs ({args.customers:,} customers, {args.facilities:,} facilities)\n")
    for name, seconds in timings.steps.items():
        print(f"- {name}: {seconds:.1f} s")
    print(f"\n## Alert evaluation (target under {TARGET_EVALUATION_S} s; the re-run writes nothing)\n")
    print("\n".join(lines))
    print(f"\nevaluation: {'met' if evaluation_met else 'NOT MET'}")
    print(f"\n## Dashboard ({args.requests} requests after {args.warmup} warm-up, one client)\n")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs")
    pages.report(results)
    failed = [r for r in results if r.failure]
    return 1 if failed or not evaluation_met else 0


if __name__ == "__main__":
    sys.exit(main())
