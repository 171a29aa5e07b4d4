"""`make run` stops cleanly: SIGTERM to its process group (what a terminal, systemd or a CI
runner sends) ends the web server, the worker, its pool children and beat within seconds.

It used to hang for ever: the signal reached the worker's idle prefork children too, one died
holding the pool's queue lock, and the worker waited for that lock at exit ("Warm shutdown")."""

import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import free_port, wait_until

BASE_DIR = Path(settings.BASE_DIR)
# ~25 s: a migrate, the worker's start and its stop; its own SQLite and broker, any CI leg.
pytestmark = pytest.mark.faults


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (the worker runs in a session of its own, so a process
    group would miss it), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent has not reaped it yet).
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own server)
            return response.status == 200
    except OSError:
        return False


def test_sigterm_to_the_process_group_stops_web_worker_and_beat_within_seconds():
    folder = Path(tempfile.mkdtemp(prefix="crm-make-run-"))
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{folder / 'crm.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(folder / "broker"),
        "CACHE_URL": "locmemcache://make-run",
    }
    subprocess.run(
        [str(BASE_DIR / ".venv/bin/python"), "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
    )
    log = folder / "run.log"
    with log.open("wb") as out:
        script = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "scripts/run-dev.sh"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as `make run` in a terminal has
        )
    started: set[int] = set()
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/accounts/login/"), seconds=60, what="the web server")
        # Beat's sweep (every 5 s) has run on the worker: its pool children have worked and idle,
        # waiting for the next task — the state in which the hang happened.
        wait_until(lambda: log.read_bytes().count(b"succeeded in") >= 2, seconds=60, what="two tasks run")
        started = descendants(script.pid) | {script.pid}
        commands = " ".join(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") for pid in started)
        assert "runserver" in commands and "celery" in commands

        os.killpg(script.pid, signal.SIGTERM)
        try:
            wait_until(lambda: not any(alive(pid) for pid in started), seconds=15, what="web, worker and beat gone")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- run-dev.sh's output ---\n{log.read_text(errors='replace')[-3000:]}"
            ) from None
        assert not answers(f"http://127.0.0.1:{port}/accounts/login/")
    finally:
        for pid in started | {script.pid}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        script.wait(5)
        shutil.rmtree(folder, ignore_errors=True)
