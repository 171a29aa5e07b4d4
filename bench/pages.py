"""Benchmark the funnel pages — board, deal list (first page and deep) and analytics — as an RM and
as a team manager would load them, through gunicorn on loopback.

    .venv/bin/python bench/pages.py                                   # 1,000,000 customers, 2,000,000 deals
    .venv/bin/python bench/pages.py --reuse                           # same data again: skip seeding
    .venv/bin/python bench/pages.py --reuse --no-rollup --explain     # re-measure, show the queries
    .venv/bin/python bench/pages.py --customers 20000 --deals 40000   # quick run
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/other_bench .venv/bin/python bench/pages.py --explain

The database defaults to postgres://postgres@127.0.0.1:5432/crm_bench_pages (DATABASE_URL
overrides it); its name must contain "bench", since seeding empties the customer and deal tables.
PostgreSQL only. The run:

    1. creates and migrates the database; unless --reuse finds data of the requested size, empties
       it and seeds 20 teams (10 RMs and a team manager each), N customers over the RMs (COPY,
       bench/regrade.py's generator), grades them once, then M deals and their stage moves
       set-based (bench/seed.py), then VACUUM ANALYZE;
    2. rebuilds the funnel rollup once (funnel.analytics.rollup_rebuild) and times it;
    3. starts gunicorn (2 sync workers, DEBUG off) on a free loopback port and signs in an RM with
       a median book and that RM's team manager (sessions made directly in the database);
    4. per user and page: 5 warm-up requests, then --requests timed ones (default 50), each from
       sending the request to the last byte of the body; the deep list page is reached by
       following the list's "older" link (?after=<deal code>) --depth times (default 200).

Every response must be 200: a page that answers 404 (a placeholder) or 500 is reported as
failed, never as fast, and the exit status is 1. Targets (2-core machine, 1M customers, 2M
deals): p95 under 150 ms for the board and the list at any depth, under 500 ms for analytics.
Timings on a shared machine are noisy: compare medians across runs, not single p95s.

--explain additionally renders each page in-process with DEBUG-style query capture and prints
the query count, and for every page over its target the slowest queries with
EXPLAIN (ANALYZE, BUFFERS).
"""

import argparse
import html
import http.client
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_pages"
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()  # models can only be imported once Django is configured

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import regrade as base  # noqa: E402
from bench import seed  # noqa: E402
from crm.middleware import SESSION_STARTED_KEY  # noqa: E402
from crm.models import User  # noqa: E402
from customers.choices import Tier  # noqa: E402
from customers.models import Customer, GradeReason  # noqa: E402
from customers.regrade import regrade  # noqa: E402
from funnel.models import Deal, StageMove  # noqa: E402

TARGET_MS = {"board": 150, "list, first page": 150, "list, deep page": 150, "analytics": 500}
PAGES = {"board": "/funnel/board/", "list, first page": "/funnel/deals/", "analytics": "/funnel/analytics/"}
AFTER_LINK = re.compile(r"""href\s*=\s*["']([^"']*[?&](?:amp;)?after=[^"']*)["']""", re.IGNORECASE)


# --- data -----------------------------------------------------------------------------------------
@dataclass
class Timings:
    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"  {name} …", end="", flush=True)
        started = time.perf_counter()
        yield
        self.steps[name] = time.perf_counter() - started
        print(f" {self.steps[name]:.1f} s", flush=True)


def seeded(customers: int, deals: int, staff: seed.Staff) -> bool:
    """Whether the database already holds bench data of this size (for --reuse)."""
    rm_ids = [u.pk for u in staff.rms]
    return (
        Customer.objects.count() == customers
        and Customer.objects.filter(owner_id__in=rm_ids).count() == customers
        and Deal.objects.count() == deals
        and StageMove.objects.exists()
        and Customer.objects.exclude(tier=Tier.UNRATED).exists()  # graded
    )


def seed_all(customers: int, deals: int, staff: seed.Staff, timings: Timings) -> None:
    now = timezone.now()
    with timings.step("wipe"):
        seed.wipe()
    with timings.step(f"customers ({customers:,}, COPY)"):
        seed.customers(customers, rms=staff.rms, now=now)
    with timings.step("grade customers (customers.regrade)"):
        regrade(reason=GradeReason.SCHEDULED)
    print(f"  deals ({deals:,}) and stage moves, set-based …", flush=True)
    dealt, moved = seed.deals(deals, now=now)
    timings.steps[f"deals ({deals:,}, INSERT … SELECT)"] = dealt
    timings.steps["stage moves (INSERT … SELECT)"] = moved
    print(f"    deals {dealt:.1f} s, moves {moved:.1f} s", flush=True)
    with timings.step("VACUUM ANALYZE, CHECKPOINT"):
        seed.vacuum_analyze()


def rollup(timings: Timings) -> str:
    from funnel import analytics

    started = time.perf_counter()
    try:
        run = analytics.rollup_rebuild()
    except NotImplementedError:
        return "funnel.analytics.rollup_rebuild is still a placeholder: not run"
    timings.steps["rollup_rebuild()"] = seconds = time.perf_counter() - started
    deals = getattr(run, "deals", None)
    return f"rollup_rebuild(): {seconds:.1f} s" + (f" ({deals:,} deals)" if deals is not None else "")


def typical_users(staff: seed.Staff) -> tuple[User, User]:
    """The RM with the median number of customers, and the manager of that RM's team."""
    books = list(
        Customer.objects.filter(owner__in=staff.rms)
        .values("owner_id")
        .annotate(n=Count("id"))
        .order_by("n", "owner_id")
    )
    rm = User.objects.get(pk=books[len(books) // 2]["owner_id"])
    return rm, staff.managers[rm.team_id]


# --- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(port: int, log: Path) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        # The sessions made here are signed and hashed with it: the server must share it.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--worker-class", "sync", "--timeout", "120", "--chdir", str(ROOT)]
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603
    try:
        wait_healthy(port, server, log)
        yield server
    finally:
        server.terminate()  # gunicorn's master stops its workers on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_healthy(port: int, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}); see {log}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer /health/ with 200 within {timeout:.0f} s; see {log}")


def session_for(user: User) -> str:
    """A signed-in session, as django.contrib.auth.login() would store it."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[SESSION_STARTED_KEY] = timezone.now().timestamp()
    store.create()
    return store.session_key


class Browser:
    """One user's cookie jar on one HTTP/1.1 connection. Gunicorn's sync workers close the
    connection after each response, so http.client reconnects (loopback: well under 1 ms)."""

    def __init__(self, port: int, session_key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
        self.cookies = SimpleCookie()
        self.cookies[settings.SESSION_COOKIE_NAME] = session_key

    def get(self, path: str) -> tuple[int, str, float]:
        headers = {
            "Cookie": "; ".join(f"{k}={m.value}" for k, m in self.cookies.items()),
            "Accept-Language": "en",
        }
        started = time.perf_counter()
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(header)
        return response.status, body.decode("utf-8", "replace"), seconds


# --- measuring ------------------------------------------------------------------------------------
class PageFailed(Exception):
    pass


@dataclass
class Result:
    page: str
    user: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    failure: str = ""
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]  # nearest rank

    @property
    def met(self) -> bool:
        return not self.failure and self.p95 < TARGET_MS[self.page]


def fetch(browser: Browser, path: str) -> tuple[str, float]:
    status, body, seconds = browser.get(path)
    if status != 200:
        raise PageFailed(f"HTTP {status} for {path}")
    return body, seconds


def older_link(path: str, body: str) -> str | None:
    """The list's link to the next (older) page: an ``after=`` link other than the current one."""
    current = parse_qs(urlsplit(path).query).get("after")
    for href in AFTER_LINK.findall(body):
        target = urljoin(path, html.unescape(href))
        after = parse_qs(urlsplit(target).query).get("after")
        if after and after != current:
            return target
    return None


def deep_path(browser: Browser, depth: int) -> tuple[str, int]:
    """Follow the "older" link ``depth`` times from the first page (or until the last page)."""
    path, pages = PAGES["list, first page"], 0
    for _ in range(depth):
        body, _ = fetch(browser, path)
        following = older_link(path, body)
        if following is None:
            break
        path, pages = following, pages + 1
    return path, pages


def measure(browser: Browser, page: str, user: str, path: str, *, warmup: int, requests: int) -> Result:
    result = Result(page, user, path)
    try:
        for _ in range(warmup):
            fetch(browser, path)
        for _ in range(requests):
            result.times_ms.append(fetch(browser, path)[1] * 1000)
    except PageFailed as failure:
        result.failure = str(failure)
    return result


def measure_user(port: int, label: str, user: User, args: argparse.Namespace) -> list[Result]:
    browser = Browser(port, session_for(user))
    results = [
        measure(browser, page, label, PAGES[page], warmup=args.warmup, requests=args.requests)
        for page in ("board", "list, first page")
    ]
    try:
        path, pages = deep_path(browser, args.depth)
    except PageFailed as failure:
        results.append(Result("list, deep page", label, PAGES["list, first page"], failure=str(failure)))
    else:
        if pages == 0:
            failed = Result("list, deep page", label, path, failure="no older-page link on the first page")
            results.append(failed)
        else:
            deep = measure(browser, "list, deep page", label, path, warmup=args.warmup, requests=args.requests)
            deep.note = f"page {pages + 1}" + ("" if pages == args.depth else ", the last")
            results.append(deep)
    results.append(measure(browser, "analytics", label, PAGES["analytics"], warmup=args.warmup, requests=args.requests))
    return results


# --- EXPLAIN --------------------------------------------------------------------------------------
def explain(results: list[Result], users: dict[str, User], top: int = 3) -> None:
    """Render each measured page in-process, count its queries, and EXPLAIN the slowest ones
    of the pages that missed their target."""
    print("\n## Queries per page (in-process render)\n")
    for result in results:
        if result.failure:
            continue
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(users[result.user])
        client.get(result.path)  # the first render in this process compiles the templates
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(result.path)
            seconds = time.perf_counter() - started
        sql_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        print(
            f"- {result.page} / {result.user}: HTTP {response.status_code}, {len(captured)} queries, "
            f"{sql_ms:.0f} ms in SQL of {seconds * 1000:.0f} ms"
        )
        if result.met:
            continue
        slowest = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:top]
        for query in slowest:
            if not query["sql"].lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            print(f"\n  {float(query['time']) * 1000:.0f} ms:\n\n```sql\n{query['sql']}\n```\n")
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"```\n{plan}\n```")


# --- report ---------------------------------------------------------------------------------------
def report(results: list[Result]) -> None:
    print("\n| page | user | median ms | p95 ms | target | met? |")
    print("|---|---|---:|---:|---:|---|")
    for r in results:
        page = f"{r.page} ({r.note})" if r.note else r.page
        if r.failure:
            print(f"| {page} | {r.user} | – | – | < {TARGET_MS[r.page]} ms | FAILED: {r.failure} |")
        else:
            verdict = "met" if r.met else "MISSED"
            print(f"| {page} | {r.user} | {r.median:.0f} | {r.p95:.0f} | < {TARGET_MS[r.page]} ms | {verdict} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers (default 1,000,000)")
    parser.add_argument("--deals", type=int, default=2_000_000, help="deals (default 2,000,000)")
    parser.add_argument("--reuse", action="store_true", help="skip seeding if data of this size is there")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page and user (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    parser.add_argument("--depth", type=int, default=200, help="older-links followed to the deep page (200)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    parser.add_argument("--no-rollup", action="store_true", help="skip rollup_rebuild() (with --reuse)")
    parser.add_argument("--explain", action="store_true", help="query counts; EXPLAIN pages over target")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        parser.error("PostgreSQL only: point DATABASE_URL at a PostgreSQL database named *bench*")
    if "bench" not in base.database_name():
        parser.error(f"refusing to wipe {base.database_name()!r}: point DATABASE_URL at a database named *bench*")

    timings = Timings()
    print(f"database {base.database_name()}")
    base.ensure_database()
    with timings.step("migrate"):
        call_command("migrate", verbosity=0)
    staff = seed.staff()
    if args.reuse and seeded(args.customers, args.deals, staff):
        print("  --reuse: data of this size is there, seeding skipped")
        # A migration since the last run may have rewritten rows: same starting point as a seed.
        with timings.step("VACUUM ANALYZE, CHECKPOINT"):
            seed.vacuum_analyze()
    else:
        seed_all(args.customers, args.deals, staff, timings)
    if not args.no_rollup:
        print("  " + rollup(timings), flush=True)

    rm, manager = typical_users(staff)
    users = {"RM": rm, "team manager": manager}
    print(f"\nrows: {Customer.objects.count():,} customers, {Deal.objects.count():,} deals, ", end="")
    print(f"{StageMove.objects.count():,} stage moves")
    for label, user in users.items():
        customers = Customer.objects.visible_to(user).count()
        deals = Deal.objects.visible_to(user)
        print(
            f"{label} {user.username}: sees {customers:,} customers, {deals.count():,} deals "
            f"({deals.open().count():,} open)"
        )

    port = args.port or free_port()
    log = Path(tempfile.gettempdir()) / f"bench_pages_gunicorn_{port}.log"
    print(f"\ngunicorn on 127.0.0.1:{port} (2 sync workers, DEBUG off), log {log}", flush=True)
    results: list[Result] = []
    load_before = os.getloadavg()[0]
    with gunicorn(port, log):
        for label, user in users.items():
            results += measure_user(port, label, user, args)
    load_after = os.getloadavg()[0]
    print(f"\n## Seeding and rebuild ({args.customers:,} customers, {args.deals:,} deals)\n")
    for name, seconds in timings.steps.items():
        print(f"- {name}: {seconds:.1f} s")
    print(f"\n## Response times ({args.requests} requests after {args.warmup} warm-up, one client)\n")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs")
    report(results)
    if args.explain:
        explain(results, users)
    failed = [r for r in results if r.failure]
    if failed:
        print(f"\n{len(failed)} page(s) FAILED (not measured): " + "; ".join(f"{r.page}/{r.user}" for r in failed))
        print(f"gunicorn log: {log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
