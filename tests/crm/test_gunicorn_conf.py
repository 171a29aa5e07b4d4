"""The gunicorn settings the README tells operators to run with (config/gunicorn_conf.py)."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn_with_our_settings():
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "ALLOWED_HOSTS": "127.0.0.1"}
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_conf.py", "config.wsgi"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "info"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield server, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def get(port: int, path: str, timeout: float = 60) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return response.status, response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_worker_freezes_the_loaded_app_and_then_serves_pages(gunicorn_with_our_settings):
    server, port = gunicorn_with_our_settings
    status, body = get(port, "/accounts/login/")
    assert status == 200
    assert 'name="password"' in body

    server.terminate()
    log = server.communicate(timeout=30)[0]
    frozen = [line for line in log.splitlines() if "objects of the loaded app frozen" in line]
    assert len(frozen) == 1, log
    # Django and the apps alone are far more than this; a hook that ran before the app was
    # loaded, or froze nothing, would report a handful.
    count = int(frozen[0].split(": ")[-1].split()[0])
    assert count > 50_000, frozen[0]


def test_the_settings_run_one_more_sync_worker_than_the_cores():
    out = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_conf.py", "--print-config", "config.wsgi"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settings = {name.strip(): value.strip() for name, _, value in (line.partition(" = ") for line in out.splitlines())}
    assert settings["workers"] == str((os.cpu_count() or 1) + 1)
    assert settings["worker_class"] == "sync"
    assert settings["timeout"] == "30"
