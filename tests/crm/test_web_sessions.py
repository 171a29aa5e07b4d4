"""The web server's database sessions: named ``crm-web`` (background batches yield to them) and,
on PostgreSQL, planned without JIT, which compiled page queries to machine code for longer than
they then ran. A worker or a shell keeps PostgreSQL's default. Each process is started for real,
as gunicorn and Celery start them, reading its settings from the environment."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from crm.sql import WEB_APPLICATION
from tests.conftest import database_url

pytestmark = pytest.mark.django_db

SESSION = """
import os, sys
{entry}
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    if connection.vendor == "postgresql":
        cursor.execute("SELECT current_setting('application_name'), current_setting('jit')")
        print(*cursor.fetchone())
    else:
        cursor.execute("SELECT 1")
        print(connection.vendor, "-")
"""


def session_of(entry: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DB_APPLICATION_NAME", "DB_JIT")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = database_url()
    else:
        env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    out = subprocess.run(
        [sys.executable, "-c", SESSION.format(entry=entry)],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.split()


def test_the_web_server_plans_without_jit_and_says_who_it_is():
    web = session_of("import config.wsgi")
    other = session_of("")
    if connection.vendor == "postgresql":
        assert web == [WEB_APPLICATION, "off"]
        assert other == ["crm", "on"]  # a worker's batches keep PostgreSQL's own choice
    else:
        assert web == other == ["sqlite", "-"]
