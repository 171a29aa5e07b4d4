"""Shared fixtures: the three-user cast (owner, teammate, outsider) plus managers, a real Celery
worker on the configured broker, and Debian's Chromium for Playwright."""

import itertools
import os
import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, date
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models import Count, DecimalField, F, Sum
from django.utils import translation
from kombu import pools as kombu_pools

from config.celery import app as celery_app
from crm.roles import Role
from funnel.models import CLOSED_STAGES, ClosedDayTotal, Deal, StageTotal
from tests.factories import CustomerFactory, TeamFactory, make_user

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
# thread with a running loop unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(what: str) -> None:
    """Skip on a developer machine without the service; fail where CI promised it."""
    message = f"{what} is not available"
    if settings.REQUIRE_SERVICES:
        pytest.fail(message + " but REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _migrated_snapshot(django_db_setup):
    """Django's snapshot of the migrated test database (what the data migrations ship: roles,
    the default scorecard, tier policies, stages, alert rules, beat schedules), visible to
    every connection object. serialized_rollback restores it after a transactional test's
    flush, reading it from the connection; but under Playwright's sync API tests run inside an
    event loop, where Django hands out other (context-local) connection objects without it, so
    from the first browser test on nothing was restored and flushes re-ran post_migrate. Kept
    on the connection class, every connection finds it."""
    from django.db import connections

    wrapper = type(connections["default"])
    snapshot = getattr(connections["default"], "_test_serialized_contents", None)
    if snapshot is None:
        yield
        return
    wrapper._test_serialized_contents = snapshot
    yield
    del wrapper._test_serialized_contents


@pytest.fixture(autouse=True)
def _language_reset():
    """A request by a user with a saved language activates it for the thread (as in a real
    worker, where the next request activates its own); no test inherits another's language."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _private_broker_folder():
    """Keep test messages out of the development queue under var/ (filesystem broker only)."""
    if not celery_app.conf.broker_url.startswith("filesystem"):
        yield
        return
    folder = tempfile.mkdtemp(prefix="crm-test-broker-")
    options = dict(celery_app.conf.broker_transport_options)
    celery_app.conf.broker_transport_options = {
        **options,
        "data_folder_in": folder,
        "data_folder_out": folder,
        "processed_folder": folder,
    }
    _reset_broker_pools()
    yield
    shutil.rmtree(folder, ignore_errors=True)


def _reset_broker_pools() -> None:
    # Celery caches connection pools per app and kombu per connection; drop both so the next
    # publish connects with the current configuration.
    kombu_pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str):
    """Point task publishing at another broker URL for the duration (e.g. a dead one)."""
    old = celery_app.conf.broker_url
    old_env = os.environ.get("CELERY_BROKER_URL")
    # Celery lets the environment variable win over its configuration; set both.
    os.environ["CELERY_BROKER_URL"] = celery_app.conf.broker_url = url
    _reset_broker_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url = old
        if old_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = old_env
        _reset_broker_pools()


@contextmanager
def silent_server(accepted: list | None = None):
    """A TCP server that accepts connections and never says a word: the worst broker. Pass a
    list as ``accepted`` to see every connection anyone made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = [] if accepted is None else accepted
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


def wait_for(condition, seconds: float = 15) -> bool:
    """Poll ``condition`` until it holds (True) or ``seconds`` pass (False): for work that
    another process or thread does, never a fixed sleep."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def wait_until(condition, *, seconds: float, what: str, every: float = 0.2) -> None:
    """As wait_for, but fail saying ``what`` did not happen."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"{what}: not within {seconds} s")


def flush_table_stats() -> None:
    """PostgreSQL counts a backend's changes in its own memory and reports them when it goes idle
    at most once a second; ask for the next report now, and let the session go idle once, so
    that pg_stat_user_tables shows this test's writes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def database_url() -> str:
    """The test database (PostgreSQL) as a URL, for processes a test starts."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def celery_worker_running(*, purge: bool = True):
    """A real Celery worker thread consuming from the configured broker (filesystem by default,
    Redis in CI), started inside a test. It sees committed data only. ``purge=False`` keeps what
    the test itself sent before the worker came (otherwise a shared Redis is emptied first)."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.db import connections

    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        require(f"The broker at {celery_app.conf.broker_url}")
    if purge and not celery_app.conf.broker_url.startswith("filesystem"):
        celery_app.control.purge()  # leftovers of an earlier run on a shared Redis

    def close_connections(**kwargs):
        # The worker thread opens its own database connection; close it so PostgreSQL can drop
        # the test database at the end.
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING") as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_connections)


@pytest.fixture
def celery_worker(transactional_db):
    """A real worker for the whole test (see celery_worker_running); hence a transactional
    database."""
    with celery_worker_running() as worker:
        yield worker


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        require("Chromium (Debian package 'chromium')")
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_FLAGS}


# --- The cast ----------------------------------------------------------------------------------
@pytest.fixture
def team(db):
    return TeamFactory(name="East")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="West")


@pytest.fixture
def rm1(team):
    return make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm1")


@pytest.fixture
def rm2(team):
    return make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm2")


@pytest.fixture
def rm_west(other_team):
    return make_user(Role.RELATIONSHIP_MANAGER, team=other_team, username="rm_west")


@pytest.fixture
def manager(team):
    return make_user(Role.TEAM_MANAGER, team=team, username="manager")


@pytest.fixture
def risk_officer(db):
    return make_user(Role.RISK_OFFICER, username="risk")


@pytest.fixture
def admin_user(db):
    return make_user(Role.ADMIN, username="admin", is_superuser=True)


@pytest.fixture
def customer(rm1):
    """rm1's customer."""
    return CustomerFactory(owner=rm1, team=rm1.team, name="华东光伏电站项目有限公司")


@pytest.fixture
def graded_customer(rm1):
    """rm1's customer with every input present: grades AA with the shipped scorecard."""
    return CustomerFactory(
        owner=rm1,
        team=rm1.team,
        registered_capital=Decimal("500000000"),
        industry_position="leader",
        bureau_rating="AA",
        has_litigation=False,
        overdue_count=0,
        debt_ratio=Decimal("0.45"),
        current_ratio=Decimal("1.8"),
        project_amount=Decimal("300000000"),
        cooperation_since=date(2018, 1, 1),
    )


@pytest.fixture
def other_customer(rm2):
    """rm2's customer: rm1's teammate, so only their team manager and risk see both."""
    return CustomerFactory(owner=rm2, team=rm2.team, name="远航港口建设有限公司")


@pytest.fixture
def west_customer(rm_west):
    return CustomerFactory(owner=rm_west, team=rm_west.team, name="西部矿业资源有限公司")


# --- Races ----------------------------------------------------------------------------------------
class LockWaiters:
    """Sees other connections queue behind a database lock that the test (or a thread it paused)
    holds, so that a race test lets them go only once they really wait, and proves they did.

    PostgreSQL shows a waiter in ``pg_stat_activity``. SQLite shows nothing, but the project
    opens every transaction with ``BEGIN IMMEDIATE`` (config/settings.py), so a writer waits at
    its ``BEGIN`` while another transaction holds the database write lock: this counts the
    BEGINs under way in threads other than the one that made it, and ``assert_waited`` then
    proves that none of those seen waiting got through before ``letting_go``.

        with transaction.atomic():           # hold the lock (SELECT … FOR UPDATE on PostgreSQL)
            ...start the racers...
            lock_waiters.wait(2)             # both are queued behind it
            lock_waiters.letting_go()        # last thing before the lock is released
        ...join the racers...
        lock_waiters.assert_waited()
    """

    def __init__(self):
        self.vendor = connection.vendor
        self._own_thread = threading.get_ident()
        self._guard = threading.Lock()
        self._tokens = itertools.count()
        self._under_way: set[int] = set()
        self._got_in_early: set[int] = set()
        self._seen_waiting: set[int] = set()
        self._released = threading.Event()

    def __call__(self, execute, sql, params, many, context):
        """Execute wrapper on the SQLite connections of other threads."""
        if threading.get_ident() == self._own_thread or not sql.startswith("BEGIN"):
            return execute(sql, params, many, context)
        token = next(self._tokens)
        with self._guard:
            self._under_way.add(token)
        try:
            return execute(sql, params, many, context)
        finally:
            with self._guard:
                self._under_way.discard(token)
                if not self._released.is_set():
                    self._got_in_early.add(token)

    def _watch(self, sender, connection, **kwargs) -> None:
        connection.execute_wrappers.append(self)

    def waiting(self) -> int:
        """How many other connections wait on a lock now."""
        if self.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Activity statistics are snapshotted once per transaction; we may be in one.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                return cursor.fetchone()[0]
        with self._guard:
            return len(self._under_way)

    def wait(self, count: int, seconds: float = 15) -> None:
        """Until ``count`` other connections wait on the lock held; fail if they never do."""
        if not wait_for(lambda: self.waiting() >= count, seconds):
            pytest.fail(f"{count} connection(s) never queued behind the lock held")
        with self._guard:
            self._seen_waiting |= self._under_way

    def letting_go(self) -> None:
        """Call as the last thing before the holder commits (or is let carry on)."""
        self._released.set()

    def assert_waited(self) -> None:
        """Those seen waiting got the lock only after ``letting_go`` (PostgreSQL: ``wait`` saw
        them waiting on a lock, which is the proof)."""
        assert self._released.is_set(), "letting_go() was never called"
        with self._guard:
            early = self._seen_waiting & self._got_in_early
        assert not early, f"{len(early)} waiter(s) got the lock while it was held"


@pytest.fixture
def lock_waiters(transactional_db):
    """A LockWaiters for this test (a race needs real commits, hence a transactional database)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        pytest.skip("seeing a connection wait on a lock is database-specific")
    waiters = LockWaiters()
    if connection.vendor == "sqlite":
        connection_created.connect(waiters._watch, weak=False, dispatch_uid=id(waiters))
    try:
        yield waiters
    finally:
        connection_created.disconnect(dispatch_uid=id(waiters))


@contextmanager
def lease_held(name: str):
    """Another run holds the job's lease for the duration (crm.jobs.leases)."""
    from crm.jobs.leases import lease_release, lease_take

    assert lease_take(name, holder="another-run")
    try:
        yield
    finally:
        lease_release(name, holder="another-run")


# --- Background jobs ---------------------------------------------------------------------------
def run_jobs(*, rounds: int = 10) -> int:
    """Run every job waiting for a worker (asked for with ``job_request``, or a batch of one)
    through the project's runner, in this process and in the order asked for, as a worker
    would, until none waits; returns how many ran. Inside a test's transaction nothing is sent
    to the broker (on_commit never fires), so the jobs wait until this runs them."""
    from crm.models import Job, JobStatus

    ran = 0
    for _ in range(rounds):
        waiting = list(
            Job.objects.filter(status__in=[JobStatus.PENDING, JobStatus.QUEUED]).order_by("created_at", "pk")
        )
        if not waiting:
            break
        for job in waiting:
            celery_app.tasks[job.task].apply(kwargs=job.kwargs, task_id=str(job.code))
            ran += 1
    return ran


def run_one_job(**filters) -> None:
    """Run the one waiting job that matches ``filters`` (e.g. ``parent=None``), not its batches."""
    from crm.models import Job, JobStatus

    job = Job.objects.get(status__in=[JobStatus.PENDING, JobStatus.QUEUED], **filters)
    celery_app.tasks[job.task].apply(kwargs=job.kwargs, task_id=str(job.code))


# --- Deals' stage totals -----------------------------------------------------------------------
Key = tuple[int, int, str]


def stage_totals_kept() -> dict[Key, tuple[int, Decimal, Decimal]]:
    """(count, amount, Σ amount × probability) per (owner, team, stage) as the triggers keep them.
    A row whose deals all left stays with count 0; it must add nothing, and is left out."""
    kept = {}
    for row in StageTotal.objects.all():
        if row.count == 0:
            assert (row.amount, row.weighted) == (0, 0), f"an empty total that adds something: {row.__dict__}"
            continue
        kept[(row.owner_id, row.team_id, row.stage)] = (row.count, row.amount, row.weighted)
    return kept


def stage_totals_live() -> dict[Key, tuple[int, Decimal, Decimal]]:
    """The same figures summed from the deals themselves."""
    weighted = DecimalField(max_digits=24, decimal_places=2)
    rows = (
        Deal.objects.order_by()
        .values("owner_id", "team_id", "stage")
        .annotate(
            n=Count("id"),
            amount_sum=Sum("amount"),
            weighted_sum=Sum(F("amount") * F("probability"), output_field=weighted),
        )
    )
    return {(r["owner_id"], r["team_id"], r["stage"]): (r["n"], r["amount_sum"], r["weighted_sum"]) for r in rows}


DayKey = tuple[int, int, str, date]


def closed_totals_kept() -> dict[DayKey, tuple[int, Decimal, Decimal]]:
    """(count, amount, Σ amount × probability) per (owner, team, closed stage, UTC day) as the
    triggers keep them (funnel.models.ClosedDayTotal); rows emptied to 0 are left out."""
    kept = {}
    for row in ClosedDayTotal.objects.all():
        if row.count == 0:
            assert (row.amount, row.weighted) == (0, 0), f"an empty total that adds something: {row.__dict__}"
            continue
        kept[(row.owner_id, row.team_id, row.stage, row.day)] = (row.count, row.amount, row.weighted)
    return kept


def closed_totals_live() -> dict[DayKey, tuple[int, Decimal, Decimal]]:
    """The same figures summed from the closed deals, by the UTC date they entered their stage."""
    live: dict[DayKey, list] = {}
    for owner, team, stage, entered, amount, probability in Deal.objects.filter(stage__in=CLOSED_STAGES).values_list(
        "owner_id", "team_id", "stage", "stage_entered_at", "amount", "probability"
    ):
        entry = live.setdefault((owner, team, stage, entered.astimezone(UTC).date()), [0, 0, 0])
        entry[0] += 1
        entry[1] += amount
        entry[2] += amount * probability
    return {key: (n, Decimal(a), Decimal(w)) for key, (n, a, w) in live.items()}


# --- Alerts' counts ------------------------------------------------------------------------------
AlertKey = tuple[int, int, str, str]


def alert_totals_kept() -> dict[AlertKey, int]:
    """Alerts per (owner, team, severity, status) as the triggers keep them
    (risk.models.AlertTotal); rows emptied to 0 are left out."""
    from risk.models import AlertTotal

    return {
        (row.owner_id, row.team_id, row.severity, row.status): row.count for row in AlertTotal.objects.exclude(count=0)
    }


def alert_totals_live() -> dict[AlertKey, int]:
    """The same counts from the alerts themselves."""
    from risk.models import Alert

    rows = Alert.objects.order_by().values("owner_id", "team_id", "severity", "status").annotate(n=Count("id"))
    return {(r["owner_id"], r["team_id"], r["severity"], r["status"]): r["n"] for r in rows}


AlertDayKey = tuple[int, int, str, date]


def alert_days_kept() -> dict[AlertDayKey, int]:
    """Alerts opened per (owner, team, severity, local day) as the triggers keep them
    (risk.models.AlertDayTotal); rows emptied to 0 are left out."""
    from risk.models import AlertDayTotal

    return {
        (row.owner_id, row.team_id, row.severity, row.day): row.count for row in AlertDayTotal.objects.exclude(count=0)
    }


def alert_days_live() -> dict[AlertDayKey, int]:
    """The same from the alerts, each dated in TIME_ZONE (Asia/Shanghai) by Python."""
    from django.utils import timezone

    from risk.models import Alert

    live: dict[AlertDayKey, int] = {}
    for owner, team, severity, opened in Alert.objects.values_list("owner_id", "team_id", "severity", "opened_at"):
        key = (owner, team, severity, timezone.localdate(opened))
        live[key] = live.get(key, 0) + 1
    return live


def unapplied_migrations() -> list[str]:
    """Migrations of any app not applied to the test database (a test that migrates one app
    back unapplies the others' migrations that depend on it)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
