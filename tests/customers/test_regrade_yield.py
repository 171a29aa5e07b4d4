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
from customers.models import Customer, GradeReason
from customers.regrade import regrade, regrade_range
from tests.factories import GRADEABLE, CustomerFactory

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
    """Six customers with the inputs to be graded, none graded yet."""
    return CustomerFactory.create_batch(6, owner=rm1, team=rm1.team, **GRADEABLE)


def test_nobody_on_the_site_no_pause(portfolio):
    assert not people_are_busy()
    result = regrade(reason=GradeReason.SCHEDULED, batch_size=2)
    assert result.paused == 0
    assert result.written == 6
    assert result.transactions == 3  # one per batch


@override_settings(REGRADE_BUSY_BATCH_SIZE=2)
def test_on_an_idle_site_a_batch_job_is_one_transaction(portfolio):
    ids = sorted(c.pk for c in portfolio)
    result = regrade_range(lo=ids[0], hi=ids[-1] + 1, reason=GradeReason.SCHEDULED)
    assert (result.written, result.transactions, result.paused) == (6, 1, 0)


@override_settings(REGRADE_BUSY_BATCH_SIZE=2)
def test_while_a_page_is_served_a_batch_job_works_in_small_pieces(portfolio):
    """Short bursts with a pause after each, rather than one long one that holds a core."""
    ids = sorted(c.pk for c in portfolio)
    assert ids == list(range(ids[0], ids[0] + 6))
    with a_page_being_served():
        result = regrade_range(lo=ids[0], hi=ids[-1] + 1, reason=GradeReason.SCHEDULED)
    assert result.written == 6  # the work is done all the same
    assert result.customers == 6
    stamps = {c.graded_at for c in Customer.objects.filter(pk__in=ids)}
    assert len(stamps) == 1 and None not in stamps  # one re-grade, one time, whatever the pieces
    if connection.vendor == "postgresql":
        assert result.transactions == 3
        assert result.paused > 0
    else:  # SQLite cannot tell who else is at work: one piece, no pause
        assert (result.transactions, result.paused) == (1, 0)


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
