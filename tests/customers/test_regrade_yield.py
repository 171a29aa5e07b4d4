"""The portfolio re-grade yields to people using the site: between its batches it pauses while
the web server's database sessions are at work (crm.sql.yield_to_people), and runs flat out
when they are idle. The web session here is a real second connection to the test database,
labelled as the web server labels its own (config/wsgi.py), running a query."""

import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from django.test import override_settings

from crm.sql import WEB_APPLICATION, people_are_busy
from customers.models import GradeReason
from customers.regrade import regrade
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@contextmanager
def a_page_being_served(seconds: float = 3.0):
    """A web session running a query for ``seconds`` (PostgreSQL); SQLite has no sessions to see."""
    if connection.vendor != "postgresql":
        yield
        return
    params = connection.get_connection_params()
    params = {k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
    started = threading.Event()

    def serve() -> None:
        with psycopg.connect(**params, application_name=WEB_APPLICATION, autocommit=True) as web:
            started.set()
            web.execute("SELECT pg_sleep(%s)", [seconds])

    server = threading.Thread(target=serve)
    server.start()
    started.wait(10)
    time.sleep(0.2)  # the query under way
    try:
        yield
    finally:
        server.join()


@pytest.fixture
def portfolio(rm1):
    return CustomerFactory.create_batch(6, owner=rm1, team=rm1.team)


def test_nobody_on_the_site_no_pause(portfolio):
    assert not people_are_busy()
    result = regrade(reason=GradeReason.SCHEDULED, batch_size=2)
    assert result.paused == 0
    assert result.written == 6


def test_the_regrade_pauses_between_batches_while_a_page_is_served(portfolio):
    with a_page_being_served():
        busy = people_are_busy()
        result = regrade(reason=GradeReason.SCHEDULED, batch_size=2)  # three batches, two pauses
    assert result.written == 6  # the work is done all the same
    if connection.vendor == "postgresql":
        assert busy
        assert result.paused > 0
    else:  # SQLite cannot tell who else is at work: it never pauses
        assert not busy
        assert result.paused == 0


@override_settings(BACKGROUND_YIELD=0)
def test_a_yield_of_zero_never_pauses(portfolio):
    with a_page_being_served():
        result = regrade(reason=GradeReason.SCHEDULED, batch_size=2)
    assert result.paused == 0
    assert result.written == 6
