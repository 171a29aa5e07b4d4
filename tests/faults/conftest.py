"""Real processes to break: a redis-server of the test's own on a free port (never the shared one
on 6379) and Celery worker subprocesses (with beat) on the test database, which tests kill,
stop and restart. PostgreSQL only (``pg_terminate_backend``, and a second process writing to
the same database as the test at full speed); the SQLite leg of CI deselects the module."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import broker_at, database_url, free_port, require, wait_until

BASE_DIR = Path(settings.BASE_DIR)
pytestmark = pytest.mark.faults


class RedisServer:
    def __init__(self, port: int, folder: str):
        self.port, self.folder = port, folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            require("redis-server (Debian package redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, seconds=10, what="redis-server up")

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: no goodbye, no persistence — what was queued is gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Worker:
    """``celery worker --beat`` in its own process group, on the test database."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--loglevel=INFO",
                "--concurrency=1",
                "--without-mingle",
                "--without-gossip",
                "--pidfile=",
                f"--schedule={self.log.parent / 'beat-schedule'}",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool's children die with it
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: the main process and the pool child mid-task."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def faults(transactional_db, request):
    """Own Redis and worker factory; everything started is stopped at the end, and the worker
    logs are printed when the test failed."""
    if connection.vendor != "postgresql":
        require("PostgreSQL (DATABASE_URL) for the fault tests")
    folder = tempfile.mkdtemp(prefix="crm-faults-")
    redis_server = RedisServer(free_port(), folder)
    workers: list[Worker] = []

    class Faults:
        redis = redis_server

        @staticmethod
        def worker(**env) -> Worker:
            worker = Worker(
                {
                    **os.environ,
                    "DATABASE_URL": database_url(),
                    "CELERY_BROKER_URL": redis_server.url,
                    "CACHE_URL": "locmemcache://faults",
                    "JOBS_LEASE_SECONDS": "3",
                    "JOBS_REDELIVER_AFTER": "20",
                    "REGRADE_BATCH_SIZE": "150",
                    "LOG_LEVEL": "INFO",
                    **env,
                },
                Path(folder) / f"worker-{len(workers)}.log",
            )
            workers.append(worker)
            worker.start()
            return worker

    with broker_at(redis_server.url):
        try:
            yield Faults
        finally:
            for worker in workers:
                worker.kill()
            redis_server.kill()
            report = getattr(request.node, "rep_call", None)
            if report is not None and report.failed:
                for worker in workers:
                    sys.stderr.write(f"\n--- {worker.log.name} ---\n{worker.tail(80)}\n")
            shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
