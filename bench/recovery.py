"""How long the portfolio re-grade takes to finish after the faults background work meets.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/recovery.py --customers 100000

Seeds N graded customers (as bench/regrade.py does), starts a redis-server of its own on a free
port and a Celery worker with beat (a subprocess, production settings: two processes, one-minute
leases), and times three publications of a changed scorecard, each until every customer is
graded by it and the job is done:

    a. nothing goes wrong (the baseline);
    b. Redis is killed before the publish and started again (empty) OUTAGE seconds later — timed
       from Redis being back;
    c. the worker is killed outright (SIGKILL to its process group) once a quarter of the
       batches are done, and a new one started at once — timed from the publish.

The database name must contain "bench" (its customers are wiped) unless --allow-any-database.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.regrade import (  # noqa: E402
    BENCH_NAME,
    NEW_CUTOFF_A,
    NEW_CUTOFF_AA,
    bench_user,
    database_name,
    ensure_database,
    seed,
    wipe,
)
from config.celery import app as celery_app  # noqa: E402
from crm.models import Job, JobStatus  # noqa: E402
from customers.models import Customer, GradeReason, Scorecard, ScorecardStatus  # noqa: E402
from customers.regrade import active_scorecard, regrade  # noqa: E402
from customers.services import scorecard_copy, scorecard_publish  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.redis: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.workers = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def redis_start(self) -> None:
        self.redis = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        for _ in range(100):
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def redis_kill(self) -> None:
        self.redis.kill()
        self.redis.wait()

    def worker_start(self) -> None:
        s = connection.settings_dict
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{s['USER']}{password}@{host}/{s['NAME']}",
            "CELERY_BROKER_URL": self.url,
            "LOG_LEVEL": "WARNING",
        }
        log = (self.folder / f"worker-{self.workers}.log").open("ab")
        self.workers += 1
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel=WARNING",
             "--concurrency=2", "--without-mingle", "--without-gossip", "--pidfile=",
             f"--schedule={self.folder / 'beat'}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def worker_kill(self) -> None:
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait()

    def stop(self) -> None:
        self.worker_kill()
        if self.redis and self.redis.poll() is None:
            self.redis_kill()


def changed_draft(by) -> Scorecard:
    draft = scorecard_copy(scorecard=active_scorecard(), by=by)
    # Every publication rewrites every customer (the scorecard changes), moved cut-offs or not.
    Scorecard.objects.filter(pk=draft.pk).update(
        name=f"{BENCH_NAME}: recovery", cutoff_aa=NEW_CUTOFF_AA, cutoff_a=NEW_CUTOFF_A
    )
    draft.refresh_from_db()
    return draft


def wait_done(card: Scorecard, *, timeout: float = 1800) -> float:
    """Until every customer carries the card and its re-grade job is done; returns the time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job_id = Scorecard.objects.values_list("regrade_job_id", flat=True).get(pk=card.pk)
        done = Job.objects.filter(pk=job_id, status=JobStatus.DONE).exists()
        if done and not Customer.objects.exclude(scorecard_id=card.pk).exists():
            return time.monotonic()
        time.sleep(0.5)
    raise TimeoutError(f"scorecard v{card.version}: re-grade not done within {timeout} s")


def batches(card: Scorecard) -> tuple[int, int]:
    job = Job.objects.get(pk=Scorecard.objects.values_list("regrade_job_id", flat=True).get(pk=card.pk))
    return job.batches_done, job.batches_total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Redis stays down in (b)")
    parser.add_argument("--allow-any-database", action="store_true")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        parser.error("PostgreSQL only (DATABASE_URL)")
    if BENCH_NAME not in database_name() and not args.allow_any_database:
        parser.error(f"refusing to wipe {database_name()!r}: point DATABASE_URL at a database named *bench*")
    ensure_database()
    call_command("migrate", verbosity=0)
    wipe()
    if active_scorecard() is None:  # wipe() restores one level of copies; this run makes three
        card = Scorecard.objects.exclude(name__startswith=BENCH_NAME).order_by("-version").first()
        Scorecard.objects.filter(pk=card.pk).update(status=ScorecardStatus.ACTIVE)
    user = bench_user()
    seed(args.customers, owner=user)
    regrade(reason=GradeReason.SCHEDULED)
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-recovery-"))
    procs = Processes(folder)
    os.environ["CELERY_BROKER_URL"] = celery_app.conf.broker_url = procs.url  # this process publishes too
    results = []
    try:
        procs.redis_start()
        procs.worker_start()
        time.sleep(5)  # the worker's start-up is not what is measured

        card = changed_draft(user)
        started = time.monotonic()
        scorecard_publish(scorecard=card, by=user)
        results.append(("a  no fault, from the publish", wait_done(card) - started, batches(card)))

        procs.redis_kill()
        card = changed_draft(user)
        scorecard_publish(scorecard=card, by=user)  # the request is kept; its send fails
        time.sleep(args.outage)
        procs.redis_start()
        back = time.monotonic()
        results.append((f"b  Redis down {args.outage:.0f} s, from its return", wait_done(card) - back, batches(card)))

        card = changed_draft(user)
        started = time.monotonic()
        scorecard_publish(scorecard=card, by=user)
        job_id = Scorecard.objects.values_list("regrade_job_id", flat=True).get(pk=card.pk)
        while True:
            done, total = Job.objects.values_list("batches_done", "batches_total").get(pk=job_id)
            if total and done >= total // 4:
                break
            time.sleep(0.05)
        procs.worker_kill()
        procs.worker_start()
        results.append(("c  worker SIGKILLed at 1/4, from the publish", wait_done(card) - started, batches(card)))
    finally:
        procs.stop()
    print(f"\nRe-grade recovery, {args.customers:,} customers, PostgreSQL, one worker (2 processes) with beat")
    print(f"{'case':<48} {'seconds':>8} {'batches':>9}")
    for name, seconds, (done, total) in results:
        print(f"{name:<48} {seconds:>8.1f} {done:>4}/{total:<4}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
