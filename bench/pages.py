"""Benchmark the main pages — customer list (first page and deep), a customer search, data quality,
deal list (first page and deep), board, analytics, alert list, facility list (first page and
deep), risk dashboard, a customer page and a deal page —
as an RM, a team manager, a risk officer and an admin load them, through gunicorn on loopback;
one client at a time, or many at once (--clients), optionally while a full re-grade runs.

    .venv/bin/python bench/pages.py                                   # 1M customers, 2M deals, 500k facilities
    .venv/bin/python bench/pages.py --reuse                           # same data again: skip seeding
    .venv/bin/python bench/pages.py --reuse --explain                 # re-measure, show the queries
    .venv/bin/python bench/pages.py --reuse --only board,deals --roles rm,manager   # a subset
    .venv/bin/python bench/pages.py --reuse --clients 8 --seconds 30  # under load
    .venv/bin/python bench/pages.py --reuse --clients 8 --seconds 30 --during-regrade
    .venv/bin/python bench/pages.py --customers 20000 --deals 40000 --facilities 10000   # quick run

The database defaults to postgres://postgres@127.0.0.1:5432/crm_bench_pages (DATABASE_URL
overrides it); its name must contain "bench", since seeding empties the customer, deal and risk
tables. PostgreSQL only. The run:

    1. creates and migrates the database; unless --reuse finds data of the requested size
       (customers, pipeline deals, facilities, alerts), empties it and seeds (bench/seed.py,
       ``seed.portfolio``): 20 teams of 10 RMs and a team manager, a risk officer and an admin;
       N customers over the RMs (COPY, bench/regrade.py's generator) made to look like a
       monitored portfolio and graded once; M pipeline deals and their stage moves; the loan
       book — --facilities facilities from funded deals, twelve installments each, repayments
       for those due (5 % late, 3 % stopped paying); 2 % of customers deteriorated and re-graded;
       stale deals flagged. Then every alert rule is enabled and evaluated once
       (risk.alerts.evaluate: the alerts of a first evaluation), the funnel rollup
       (funnel.analytics.rollup_rebuild) and the risk dashboard rollup
       (risk.dashboard.rollup_rebuild) are rebuilt and timed, and VACUUM ANALYZE;
    2. starts gunicorn (DEBUG off) on a free loopback port with --workers sync workers (default
       CPUs + 1; --threads N > 1 makes them gthread workers) and signs in the four users —
       an RM with a median book, that RM's team manager, the risk officer, the admin (sessions
       made directly in the database);
    3. per user finds the pages' paths: the deep list pages by following the list's next link
       (``rel="next"``; failing that an ``after=`` link, then ``page=N+1``) --depth times
       (default 200) from the first page; the customer page is that of a customer in the
       user's scope with a facility and the median number of deals of such customers (among the
       first 200 by id), the deal page one of that customer's deals, and the search the
       customer list searched for that customer's name, as someone looking for it types it;
    4. without --clients: per user and page, --warmup untimed requests, then --requests timed
       ones (default 5 and 50), each from sending the request to the last byte of the body;
       with --clients N: after --load-warmup untimed seconds (default 5: each worker imports
       the app and compiles templates on its first requests), N client threads, each with its
       own sessions, cycle for --seconds through every (user, page) pair in their own fixed
       shuffled order (seeded), and the run
       reports req/s, errors and per page p50/p95/p99 and count, and the client's own CPU use
       (a client near 100 % of a core would be the bottleneck, not the server), and the
       machine's busy CPU time per request (Linux: every process, PostgreSQL's included; the
       cost of the mix, steadier across runs than req/s on a machine with neighbours);
       --during-regrade runs that load twice: as it is, then while a full portfolio re-grade
       runs in a separate process after a changed scorecard is published (bench/regrade.py's
       change; the next run publishes the original weights back, so every run re-grades). The
       second load stops after --seconds or when the re-grade ends, whichever is first (the
       report says which; a re-grade still running is stopped, its finished batches stay).

Every response must be 200: a page that answers 404, 403 or 500 is reported as failed, never as
fast, and the exit status is 1 (also for any error under load). Targets (2-core machine, 1M
customers, 2M deals, 500k facilities): one client, p95 under 150 ms for every page and user
(the dashboard 300 ms), queries constant in page size and depth; under load (8 clients, 30 s)
at least 40 req/s, p95 under 400 ms, no errors, and while a re-grade runs p95 at most 50 %
higher. Timings on a shared machine are noisy: compare medians across runs, not single p95s;
the report prints the CPU count and load average before and after, and PostgreSQL's version
and shared_buffers.

--explain additionally renders each page in-process with DEBUG-style query capture and prints
the query count (and whether the deep list pages run as many queries as the first ones), and
for every page over its target the slowest queries with EXPLAIN (ANALYZE, BUFFERS).
"""

import argparse
import html
import http.client
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

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
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Exists, OuterRef  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import regrade as base  # noqa: E402
from bench import seed  # noqa: E402
from crm.middleware import SESSION_STARTED_KEY  # noqa: E402
from crm.models import User  # noqa: E402
from customers.choices import Tier  # noqa: E402
from customers.models import Customer, Scorecard, ScorecardStatus  # noqa: E402
from customers.regrade import active_scorecard  # noqa: E402
from customers.services import scorecard_copy  # noqa: E402
from funnel.models import Deal, StageMove  # noqa: E402
from risk.access import alerts_for  # noqa: E402
from risk.models import Alert, AlertRule, Facility  # noqa: E402

Timings = seed.Timings  # bench/alerts.py and older callers use pages.Timings

# The pages, in report order; None: the path depends on the user (found in step 3).
PAGES: dict[str, str | None] = {
    "customers": "/customers/",
    "customers deep": None,
    "search": None,
    "data quality": "/customers/data-quality/",
    "deals": "/funnel/deals/",
    "deals deep": None,
    "board": "/funnel/board/",
    "analytics": "/funnel/analytics/",
    "alerts": "/risk/alerts/",
    "facilities": "/risk/facilities/",
    "facilities deep": None,
    "dashboard": "/risk/dashboard/",
    "customer": None,
    "deal": None,
}
# deep page -> the list it follows
DEEP = {"customers deep": "customers", "deals deep": "deals", "facilities deep": "facilities"}
TARGET_MS = {page: 150 for page in PAGES} | {"dashboard": 300}
ROLES = {"rm": "RM", "manager": "team manager", "risk": "risk officer", "admin": "admin"}
LOAD_TARGET_RPS = 40
LOAD_TARGET_P95_MS = 400
LOAD_TARGET_GROWTH = 0.50  # p95 while a re-grade runs, over p95 without
LOAD_SEED = seed.SEED + 2

NEXT_REL = re.compile(r"""<a\b[^>]*\brel\s*=\s*["']?next\b[^>]*>""", re.IGNORECASE)
HREF = re.compile(r"""\bhref\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
AFTER_LINK = re.compile(r"""href\s*=\s*["']([^"']*[?&](?:amp;)?after=[^"']*)["']""", re.IGNORECASE)
PAGE_LINK = re.compile(r"""href\s*=\s*["']([^"']*[?&](?:amp;)?page=\d+[^"']*)["']""", re.IGNORECASE)

# The re-grade under load runs in its own process, as a Celery worker would run it.
REGRADE_CHILD = """
import django
django.setup()
from customers.models import GradeReason
from customers.regrade import regrade
print(regrade(reason=GradeReason.SCORECARD_PUBLISHED), flush=True)
"""


# --- data -----------------------------------------------------------------------------------------
def pipeline_deals() -> int:
    """Deals of the pipeline, without the funded deals seed.facilities() added for facilities."""
    return Deal.objects.exclude(title__startswith="Funded project ").count()


def seeded(customers: int, deals: int, facilities: int, staff: seed.Staff) -> bool:
    """Whether the database already holds bench data of this size (for --reuse)."""
    rm_ids = [u.pk for u in staff.rms]
    return (
        Customer.objects.count() == customers
        and Customer.objects.filter(owner_id__in=rm_ids).count() == customers
        and pipeline_deals() == deals
        and StageMove.objects.exists()
        and Customer.objects.exclude(tier=Tier.UNRATED).exists()  # graded
        and Facility.objects.count() == facilities
        and Alert.objects.exists()  # evaluated
    )


def evaluate(timings: seed.Timings) -> None:
    """Every rule enabled, the alert tables emptied, one full evaluation: a first evaluation's alerts."""
    from risk.alerts import evaluate

    AlertRule.objects.update(enabled=True)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(seed.ALERT_TABLES)} RESTART IDENTITY CASCADE")
    with timings.step("alert evaluation, every rule (risk.alerts.evaluate)"):
        result = evaluate()
    print(f"    {result}", flush=True)


def rollups(timings: seed.Timings) -> None:
    from funnel import analytics
    from risk import dashboard

    with timings.step("funnel rollup (funnel.analytics.rollup_rebuild)"):
        analytics.rollup_rebuild()
    with timings.step("dashboard rollup (risk.dashboard.rollup_rebuild)"):
        dashboard.rollup_rebuild()


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


def typical_customer(user: User) -> tuple[Customer, Deal] | None:
    """A customer the user sees with a facility and the median number of deals of such customers
    (among the first 200 by id: the whole firm's would take a scan), and one of its deals."""
    with_facility = Exists(Facility.objects.filter(customer=OuterRef("pk")))
    ids = list(
        Customer.objects.visible_to(user).filter(with_facility).order_by("id").values_list("id", flat=True)[:200]
    )
    if not ids:
        return None
    counts = list(
        Deal.objects.filter(customer_id__in=ids)
        .values("customer_id")
        .annotate(n=Count("id"))
        .order_by("n", "customer_id")
    )
    customer = Customer.objects.get(pk=counts[len(counts) // 2]["customer_id"])
    deals = list(Deal.objects.visible_to(user).filter(customer=customer).order_by("id"))
    return customer, deals[len(deals) // 2]


def machine_facts() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    return f"{os.cpu_count()} CPUs, PostgreSQL {version}, shared_buffers {buffers}"


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine_cpu() -> tuple[float, float, float]:
    """Seconds the machine's CPUs spent busy, idle (or waiting for I/O), and stolen by the
    hypervisor since boot (Linux's /proc/stat; zeros elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, (idle + iowait) / tick, steal / tick


# --- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_workers() -> int:
    """CPUs + 1 sync workers: on 2 cores 3 served the mix with the least CPU per request (README)."""
    return (os.cpu_count() or 1) + 1


def server_label(workers: int, threads: int) -> str:
    kind = f"gthread workers × {threads} threads" if threads > 1 else "sync workers"
    return f"{workers} {kind}, DEBUG off"


@contextmanager
def gunicorn(port: int, log: Path, *, workers: int = 2, threads: int = 1) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        # The sessions made here are signed and hashed with it: the server must share it.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    # The production settings (config/gunicorn_conf.py); the worker options below override theirs.
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_conf.py", "config.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--timeout", "120", "--chdir", str(ROOT)]
    command += ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else ["--worker-class", "sync"]
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
    """One user's cookie jar on one HTTP/1.1 connection. Sync workers close the connection after
    each response, so http.client reconnects (loopback: well under 1 ms); gthread workers keep
    it open, and one the server closed while idle is opened again once."""

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
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()  # a kept-alive connection the server had closed: once more, fresh
            started = time.perf_counter()
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(header)
        return response.status, body.decode("utf-8", "replace"), seconds


# --- finding the pages ----------------------------------------------------------------------------
class PageFailed(Exception):
    pass


def fetch(browser: Browser, path: str) -> tuple[str, float]:
    status, body, seconds = browser.get(path)
    if status != 200:
        raise PageFailed(f"HTTP {status} for {path}")
    return body, seconds


def next_link(path: str, body: str) -> str | None:
    """The list's link to its next page: the ``rel="next"`` link; failing that an ``after=``
    link other than the current one (keyset lists), then the ``page=`` link one past the
    current page (numbered lists)."""
    for tag in NEXT_REL.findall(body):
        href = HREF.search(tag)
        if href:
            return urljoin(path, html.unescape(href.group(1)))
    current = parse_qs(urlsplit(path).query).get("after")
    for href in AFTER_LINK.findall(body):
        target = urljoin(path, html.unescape(href))
        after = parse_qs(urlsplit(target).query).get("after")
        if after and after != current:
            return target
    number = int(parse_qs(urlsplit(path).query).get("page", ["1"])[0])
    for href in PAGE_LINK.findall(body):
        target = urljoin(path, html.unescape(href))
        if parse_qs(urlsplit(target).query).get("page") == [str(number + 1)]:
            return target
    return None


def deep_path(browser: Browser, first: str, depth: int) -> tuple[str, int]:
    """Follow the next link ``depth`` times from the first page (or until the last page)."""
    path, pages = first, 0
    for _ in range(depth):
        body, _ = fetch(browser, path)
        following = next_link(path, body)
        if following is None:
            break
        path, pages = following, pages + 1
    return path, pages


@dataclass
class Target:
    """One page as one user loads it: its path, or why it could not be found."""

    page: str
    user: str
    path: str = ""
    note: str = ""
    failure: str = ""


def targets_for(browser: Browser, label: str, user: User, pages: list[str], depth: int) -> list[Target]:
    found = typical_customer(user) if {"customer", "deal", "search"} & set(pages) else None
    targets = []
    for page in pages:
        target = Target(page, label, path=PAGES[page] or "")
        if page in DEEP:
            try:
                target.path, n = deep_path(browser, PAGES[DEEP[page]] or "", depth)
            except PageFailed as failure:
                target.failure = str(failure)
            else:
                if n == 0:
                    target.failure = "no next-page link on the first page"
                target.note = f"page {n + 1}" + ("" if n == depth else ", the last")
        elif page in ("customer", "deal", "search"):
            if found is None:
                target.failure = "no customer with a facility in this user's scope"
            elif page == "search":
                customer = found[0]
                target.path = "/customers/?" + urlencode({"q": customer.name})
                target.note = "a customer's name"
            else:
                customer, deal = found
                target.path = f"/customers/{customer.code}/" if page == "customer" else f"/funnel/deals/{deal.code}/"
                deals, facilities = customer.deals.count(), customer.facilities.count()
                target.note = f"{deals} deals, {facilities} facilities" if page == "customer" else deal.stage
        targets.append(target)
    return targets


# --- one client -----------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank


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
        return percentile(self.times_ms, 0.95)

    @property
    def met(self) -> bool:
        return not self.failure and self.p95 < TARGET_MS[self.page]


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


def measure_targets(browser: Browser, targets: list[Target], args: argparse.Namespace) -> list[Result]:
    results = []
    for t in targets:
        if t.failure:
            results.append(Result(t.page, t.user, t.path, failure=t.failure, note=t.note))
            continue
        result = measure(browser, t.page, t.user, t.path, warmup=args.warmup, requests=args.requests)
        result.note = t.note
        results.append(result)
    return results


# --- many clients ---------------------------------------------------------------------------------
@dataclass
class Sample:
    page: str
    user: str
    ms: float
    error: str = ""


@dataclass
class LoadRun:
    label: str
    samples: list[Sample]
    seconds: float
    client_cpu: float  # the client process's CPU seconds over the run's wall seconds
    busy: float = 0.0  # the machine's busy CPU seconds over the run (server, database, client)
    idle: float = 0.0  # … and idle ones
    stolen: float = 0.0  # … and those the hypervisor gave to other machines
    ended: str = ""

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if not s.error]

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error]

    @property
    def rps(self) -> float:
        return len(self.samples) / self.seconds

    def times(self, page: str | None = None) -> list[float]:
        return [s.ms for s in self.ok if page is None or s.page == page]


def client(
    port: int, sessions: dict[str, str], work: list[Target], deadline: float, stop: threading.Event, out: list[Sample]
) -> None:
    browsers = {user: Browser(port, key) for user, key in sessions.items()}
    while True:
        for t in work:
            if time.monotonic() >= deadline or stop.is_set():
                return
            started = time.perf_counter()
            try:
                status, _, seconds = browsers[t.user].get(t.path)
                error = "" if status == 200 else f"HTTP {status}"
            except OSError as failure:  # refused, reset, timed out
                seconds, error = time.perf_counter() - started, f"{type(failure).__name__}: {failure}"
            out.append(Sample(t.page, t.user, seconds * 1000, error))


def load(
    port: int,
    users: dict[str, User],
    work: list[Target],
    args: argparse.Namespace,
    label: str,
    stop: threading.Event,
    seconds: float | None = None,
) -> LoadRun:
    """--clients threads, each with its own sessions and its own shuffle of ``work``, until
    ``seconds`` (default --seconds) have passed or ``stop`` is set."""
    outs: list[list[Sample]] = [[] for _ in range(args.clients)]
    sessions = [{label: session_for(user) for label, user in users.items()} for _ in range(args.clients)]
    cpu, started, machine = time.process_time(), time.monotonic(), machine_cpu()
    deadline = started + (args.seconds if seconds is None else seconds)
    threads = []
    for i in range(args.clients):
        order = work[:]
        random.Random(LOAD_SEED + i).shuffle(order)
        thread = threading.Thread(target=client, args=(port, sessions[i], order, deadline, stop, outs[i]), daemon=True)
        threads.append(thread)
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    samples = [s for out in outs for s in out]
    busy, idle, stolen = (after - before for after, before in zip(machine_cpu(), machine, strict=True))
    return LoadRun(label, samples, seconds, (time.process_time() - cpu) / seconds, busy, idle, stolen)


def publish_scorecard_change(by: User) -> str:
    """Publish bench/regrade.py's changed scorecard, or, when that change is the active card
    already, a copy of the card it replaced: either way every customer's score moves. (It was
    "any bench card is active": after a card put back, the next run put it back once more, and
    its re-grade rewrote every customer with no score moved and no grade written.)"""
    active = active_scorecard()
    assert active is not None, "the data migration ships an active scorecard"
    if active.name != base.CHANGED_NAME:
        base.publish_changed_scorecard(by=by)
        return "changed weights and cut-offs published"
    source = Scorecard.objects.get(version=int(active.notes.rstrip(".").rsplit("v", 1)[1]))
    with transaction.atomic():
        draft = scorecard_copy(scorecard=source, by=by)
        draft.name = f"{base.BENCH_NAME}: weights and cut-offs put back"  # base.wipe() finds it by this name
        draft.save(update_fields=["name"])
        Scorecard.objects.filter(pk=active.pk).update(status=ScorecardStatus.RETIRED)
        Scorecard.objects.filter(pk=draft.pk).update(
            status=ScorecardStatus.ACTIVE, published_at=timezone.now(), published_by=by
        )
    return f"original weights and cut-offs (v{source.version}) published back"


def load_during_regrade(
    port: int, users: dict[str, User], work: list[Target], args: argparse.Namespace, by: User
) -> tuple[LoadRun, str]:
    change = publish_scorecard_change(by)
    stop = threading.Event()
    log = Path(tempfile.gettempdir()) / f"bench_pages_regrade_{port}.log"
    with log.open("w") as out:
        child = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", REGRADE_CHILD], env=os.environ.copy(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    started = time.monotonic()

    def watch() -> None:
        child.wait()
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    run = load(port, users, work, args, "during a re-grade", stop)
    if child.poll() is None:
        run.ended = f"--seconds ({args.seconds} s) ran out; the re-grade was still running and was stopped"
        child.terminate()
        child.wait()
    else:
        run.ended = f"the re-grade ended after {time.monotonic() - started:.1f} s (exit {child.returncode})"
    return run, f"{change}; re-grade in a separate process, log {log}"


# --- EXPLAIN --------------------------------------------------------------------------------------
def explain(results: list[Result], users: dict[str, User], top: int = 3) -> None:
    """Render each measured page in-process, count its queries, and EXPLAIN the slowest ones
    of the pages that missed their target."""
    print("\n## Queries per page (in-process render)\n")
    counts: dict[tuple[str, str], int] = {}
    for result in results:
        if result.failure or not result.path:
            continue
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(users[result.user])
        client.get(result.path)  # the first render in this process compiles the templates
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(result.path)
            seconds = time.perf_counter() - started
        counts[result.page, result.user] = len(captured)
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
    print("\nQueries, first page against deep page:\n")
    for deep, first in DEEP.items():
        for user in users:
            if (deep, user) in counts and (first, user) in counts:
                a, b = counts[first, user], counts[deep, user]
                print(f"- {first} / {user}: {a} first, {b} deep — " + ("constant" if a == b else "DIFFERS"))


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


def report_load(run: LoadRun, pages: list[str]) -> bool:
    """The run's totals and per-page table; whether it met the load targets."""
    times = run.times()
    p95 = percentile(times, 0.95) if times else math.inf
    met = run.rps >= LOAD_TARGET_RPS and p95 < LOAD_TARGET_P95_MS and not run.errors
    print(
        f"\n### {run.label}: {len(run.samples):,} requests in {run.seconds:.1f} s = **{run.rps:.1f} req/s**, "
        f"{len(run.errors)} errors, p95 {p95:.0f} ms "
        f"(targets ≥ {LOAD_TARGET_RPS} req/s, p95 < {LOAD_TARGET_P95_MS} ms, no errors: "
        f"{'met' if met else 'NOT MET'}); client CPU {run.client_cpu:.0%} of one core"
    )
    if run.busy and run.samples:
        # What a request costs the machine, whatever the neighbours do to the clock: the busy
        # CPU time of every process (gunicorn, PostgreSQL, the client, anything else running).
        total = run.busy + run.idle + run.stolen
        print(
            f"\nmachine CPU: {run.busy / len(run.samples) * 1000:.1f} ms busy per request; "
            f"{run.busy / total:.0%} busy, {run.idle / total:.0%} idle, {run.stolen / total:.0%} stolen"
        )
    if run.ended:
        print(f"\nended: {run.ended}")
    print("\n| page | requests | errors | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for page in [*pages, None]:
        t = run.times(page)
        errors = sum(1 for s in run.errors if page is None or s.page == page)
        name = page or "**all**"
        if not t:
            print(f"| {name} | 0 | {errors} | – | – | – |")
            continue
        p50, p95_, p99 = (percentile(t, q) for q in (0.50, 0.95, 0.99))
        print(f"| {name} | {len(t) + errors:,} | {errors} | {p50:.0f} | {p95_:.0f} | {p99:.0f} |")
    first_errors: dict[str, str] = {}
    for s in run.errors:
        first_errors.setdefault(f"{s.page} / {s.user}", s.error)
    for where, error in first_errors.items():
        print(f"- error, {where}: {error}")
    return met


def report_growth(plain: LoadRun, during: LoadRun, pages: list[str]) -> bool:
    print(f"\n### p95 while the re-grade runs (target: at most {LOAD_TARGET_GROWTH:.0%} higher)\n")
    print("| page | p95 ms, plain | p95 ms, during re-grade | growth |")
    print("|---|---:|---:|---:|")
    met = True
    for page in [*pages, None]:
        a, b = plain.times(page), during.times(page)
        if not a or not b:
            continue
        before, after = percentile(a, 0.95), percentile(b, 0.95)
        growth = after / before - 1
        if page is None:
            met = growth <= LOAD_TARGET_GROWTH
        print(f"| {page or '**all**'} | {before:.0f} | {after:.0f} | {growth:+.0%} |")
    print(
        f"\nrequests/s: {plain.rps:.1f} plain, {during.rps:.1f} during the re-grade; "
        f"growth {'met' if met else 'NOT MET'}"
    )
    return met


# --- main -----------------------------------------------------------------------------------------
def names(text: str, known: dict[str, str] | list[str], what: str) -> list[str]:
    """Comma-separated names; hyphens and underscores stand for spaces."""
    chosen = [n.strip().replace("-", " ").replace("_", " ") for n in text.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers (default 1,000,000)")
    parser.add_argument("--deals", type=int, default=2_000_000, help="pipeline deals (default 2,000,000)")
    parser.add_argument("--facilities", type=int, default=500_000, help="facilities (default 500,000)")
    parser.add_argument("--reuse", action="store_true", help="skip seeding if data of this size is there")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page and user (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    parser.add_argument("--depth", type=int, default=200, help="next-links followed to a deep page (200)")
    parser.add_argument("--only", default="", help="pages, comma-separated: " + ", ".join(PAGES))
    parser.add_argument("--roles", default="", help="users, comma-separated: " + ", ".join(ROLES))
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn workers (CPUs + 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker; > 1: gthread (default 1: sync)")
    parser.add_argument("--no-rollup", action="store_true", help="skip the rollup rebuilds (with --reuse)")
    parser.add_argument("--explain", action="store_true", help="query counts; EXPLAIN pages over target")
    parser.add_argument("--clients", type=int, default=0, help="load mode: this many concurrent clients")
    parser.add_argument("--seconds", type=float, default=30, help="load mode: seconds of load (default 30)")
    parser.add_argument("--load-warmup", type=float, default=5, help="load mode: untimed seconds first (5)")
    parser.add_argument("--during-regrade", action="store_true", help="load mode: again while a re-grade runs")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        parser.error("PostgreSQL only: point DATABASE_URL at a PostgreSQL database named *bench*")
    if "bench" not in base.database_name():
        parser.error(f"refusing to wipe {base.database_name()!r}: point DATABASE_URL at a database named *bench*")
    if args.during_regrade and not args.clients:
        parser.error("--during-regrade needs --clients")
    args.pages = names(args.only, list(PAGES), "page") if args.only else list(PAGES)
    args.role_keys = names(args.roles, ROLES, "role") if args.roles else list(ROLES)
    return args


def prepare(args: argparse.Namespace, timings: seed.Timings) -> seed.Staff:
    print(f"database {base.database_name()}")
    base.ensure_database()
    with timings.step("migrate"):
        call_command("migrate", verbosity=0)
    staff = seed.staff()
    if args.reuse and seeded(args.customers, args.deals, args.facilities, staff):
        print("  --reuse: data of this size is there, seeding skipped")
        # A migration since the last run may have rewritten rows: same starting point as a seed.
        with timings.step("VACUUM ANALYZE, CHECKPOINT"):
            seed.vacuum_analyze()
        if not args.no_rollup:
            rollups(timings)
    else:
        seed.portfolio(
            n_customers=args.customers, n_deals=args.deals, n_facilities=args.facilities, staff=staff, timings=timings
        )
        evaluate(timings)
        rollups(timings)
        with timings.step("VACUUM ANALYZE, CHECKPOINT"):
            seed.vacuum_analyze()
    return staff


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    timings = seed.Timings()
    staff = prepare(args, timings)
    rm, manager = typical_users(staff)
    everyone = {"RM": rm, "team manager": manager, "risk officer": staff.risk_officer, "admin": staff.admin}
    users = {ROLES[k]: everyone[ROLES[k]] for k in args.role_keys}
    print(
        f"\nrows: {Customer.objects.count():,} customers, {Deal.objects.count():,} deals "
        f"({pipeline_deals():,} pipeline), {StageMove.objects.count():,} stage moves, "
        f"{Facility.objects.count():,} facilities, {Alert.objects.count():,} alerts"
    )
    for label, user in users.items():
        customers = Customer.objects.visible_to(user).count()
        deals = Deal.objects.visible_to(user)
        print(
            f"{label} {user.username}: sees {customers:,} customers, {deals.count():,} deals "
            f"({deals.open().count():,} open), {alerts_for(user).count():,} alerts"
        )

    port = args.port or free_port()
    log = Path(tempfile.gettempdir()) / f"bench_pages_gunicorn_{port}.log"
    server = server_label(args.workers, args.threads)
    print(f"\ngunicorn on 127.0.0.1:{port} ({server}), log {log}", flush=True)
    load_before = load_average()
    results: list[Result] = []
    runs: list[LoadRun] = []
    regrade_note = ""
    with gunicorn(port, log, workers=args.workers, threads=args.threads):
        work: list[Target] = []
        for label, user in users.items():
            browser = Browser(port, session_for(user))
            targets = targets_for(browser, label, user, args.pages, args.depth)
            if not args.clients:
                results += measure_targets(browser, targets, args)
                continue
            results += [Result(t.page, t.user, t.path, failure=t.failure, note=t.note) for t in targets if t.failure]
            work += [t for t in targets if not t.failure]
        if args.clients and work:
            print(f"load: {args.clients} clients, {len(work)} (user, page) pairs", flush=True)
            # Each worker imports the app and compiles templates on its first requests.
            print(f"  warm-up, {args.load_warmup:g} s …", flush=True)
            load(port, users, work, args, "warm-up", threading.Event(), seconds=args.load_warmup)
            print(f"  load, {args.seconds:g} s …", flush=True)
            runs.append(load(port, users, work, args, "load", threading.Event()))
            if args.during_regrade:
                print("  load again while a re-grade runs …", flush=True)
                run, regrade_note = load_during_regrade(port, users, work, args, by=staff.admin)
                runs.append(run)
    load_after = load_average()

    print(
        f"\n## Seeding and rebuilds ({args.customers:,} customers, {args.deals:,} deals, "
        f"{args.facilities:,} facilities)\n"
    )
    for name, seconds in timings.steps.items():
        print(f"- {name}: {seconds:.1f} s")
    print(f"\nmachine: {machine_facts()}; gunicorn {server}")
    print(f"load average (1/5/15 min): {load_before} before, {load_after} after")
    if not args.clients:
        print(f"\n## Response times ({args.requests} requests after {args.warmup} warm-up, one client)")
        report(results)
    else:
        print(f"\n## Under load ({args.clients} clients, {args.seconds:g} s, every listed page and user)")
        if regrade_note:
            print(f"\nre-grade: {regrade_note}")
        for run in runs:
            report_load(run, args.pages)
        if len(runs) == 2:
            report_growth(runs[0], runs[1], args.pages)
        if results:
            print("\nPages left out (not found):")
            report(results)
    if args.explain:
        explain(results if not args.clients else [Result(t.page, t.user, t.path) for t in work], users)
    failed = [r for r in results if r.failure]
    if failed:
        print(f"\n{len(failed)} page(s) FAILED (not measured): " + "; ".join(f"{r.page}/{r.user}" for r in failed))
        print(f"gunicorn log: {log}")
    errors = sum(len(run.errors) for run in runs)
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
