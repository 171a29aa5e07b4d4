"""Uploads waiting for confirmation (customers.exchange.pending): kept in the database for their
uploader, within a per-user quota, claimed once, expired after KEEP_FOR, purged."""

import threading
import uuid
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connections, transaction

from crm.roles import Role
from customers.exchange import cells, pending
from customers.models import PendingUpload
from tests.factories import make_user

pytestmark = pytest.mark.django_db

KIND = "customer_import"
NOON = datetime.fromisoformat("2026-03-15 12:00+08:00")


def keep(owner, data: bytes = b"credit code,report date\n", *, kind: str = KIND, name: str = "data.csv") -> str:
    return pending.keep(owner=owner, kind=kind, data=data, meta={"name": name})


def names_kept(owner) -> list[str]:
    kept = PendingUpload.objects.filter(owner=owner).order_by("created_at", "pk")
    return list(kept.values_list("meta__name", flat=True))


# --- Keeping ---------------------------------------------------------------------------------------
def test_it_keeps_the_upload_in_the_database_for_its_uploader(rm1):
    token = keep(rm1, b"\x00binary\xff", name="statement.xlsx")

    upload = PendingUpload.objects.get()
    assert (upload.code.hex, upload.owner, upload.kind) == (token, rm1, KIND)
    assert (bytes(upload.data), upload.size, upload.meta) == (b"\x00binary\xff", 8, {"name": "statement.xlsx"})


def test_a_users_sixth_upload_drops_their_oldest_whichever_import_kept_it(rm1, rm2):
    keep(rm2, name="rm2's")
    for n in range(1, 7):
        keep(rm1, kind=KIND if n % 2 else "repayment_import", name=f"upload {n}")

    assert names_kept(rm1) == ["upload 2", "upload 3", "upload 4", "upload 5", "upload 6"]
    assert names_kept(rm2) == ["rm2's"]  # another user's uploads neither count nor go


def test_uploads_made_in_the_same_instant_are_dropped_oldest_first(rm1):
    with time_machine.travel(NOON, tick=False):  # equal created_at: the order they came in decides
        for n in range(1, 8):
            keep(rm1, name=f"upload {n}")
    assert names_kept(rm1) == ["upload 3", "upload 4", "upload 5", "upload 6", "upload 7"]


def test_the_byte_quota_drops_the_oldest_until_the_newest_fit(rm1):
    largest = b"x" * cells.MAX_UPLOAD_BYTES
    assert len(largest) * 4 == pending.MAX_PENDING_BYTES
    for n in range(1, 5):
        keep(rm1, largest, name=f"large {n}")
    assert names_kept(rm1) == ["large 1", "large 2", "large 3", "large 4"]  # exactly at the quota

    keep(rm1, b"one more byte than the quota", name="small")

    assert names_kept(rm1) == ["large 2", "large 3", "large 4", "small"]
    assert sum(PendingUpload.objects.values_list("size", flat=True)) <= pending.MAX_PENDING_BYTES


# --- Claiming --------------------------------------------------------------------------------------
def test_only_its_uploader_claims_an_upload_in_the_import_that_kept_it(rm1, rm2):
    admin = make_user(Role.ADMIN, username="admin", is_superuser=True)
    token = keep(rm1, b"the file")

    assert pending.claim(owner=rm2, kind=KIND, token=token) is None
    assert pending.claim(owner=admin, kind=KIND, token=token) is None
    assert pending.claim(owner=rm1, kind="repayment_import", token=token) is None
    assert pending.claim(owner=rm1, kind=KIND, token=str(uuid.UUID(token))) == (b"the file", {"name": "data.csv"})
    assert pending.claim(owner=rm1, kind=KIND, token=token) is None  # once
    assert not PendingUpload.objects.exists()


def test_a_token_that_is_not_a_uuid_is_never_looked_up(rm1, django_assert_num_queries):
    keep(rm1)
    with django_assert_num_queries(0):
        for forged in ("", "../../crm.sqlite3", "1 OR 1=1", "0" * 33):
            assert pending.claim(owner=rm1, kind=KIND, token=forged) is None


def test_an_expired_upload_cannot_be_claimed(rm1):
    with time_machine.travel(NOON, tick=False) as traveller:
        token = keep(rm1, b"the file")
        fresh = keep(rm1, b"kept later")
        traveller.shift(PendingUpload.KEEP_FOR - timedelta(seconds=1))
        assert pending.claim(owner=rm1, kind=KIND, token=fresh) == (b"kept later", {"name": "data.csv"})
        traveller.shift(timedelta(seconds=1))  # exactly KEEP_FOR: too late
        assert pending.claim(owner=rm1, kind=KIND, token=token) is None


# --- Purging ---------------------------------------------------------------------------------------
def test_purge_deletes_only_the_expired_uploads_in_batches(rm1, rm2, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(pending, "PURGE_BATCH", 2)
    for owner, minutes_ago in [(rm1, 0), (rm1, 360), (rm1, 361), (rm2, 400), (rm2, 900), (rm2, 359), (rm1, 1)]:
        with time_machine.travel(NOON - timedelta(minutes=minutes_ago), tick=False):
            keep(owner, name=f"{minutes_ago} minutes old")

    # Two queries a batch (its ids, their DELETE) and the empty look that ends it: the data of
    # the uploads is never read.
    with django_assert_num_queries(5):
        assert pending.pending_uploads_purge(now=NOON) == 4

    remaining = PendingUpload.objects.order_by("created_at").values_list("meta__name", flat=True)
    assert list(remaining) == ["359 minutes old", "1 minutes old", "0 minutes old"]
    assert pending.pending_uploads_purge(now=NOON) == 0


# --- Two confirms at the same moment ---------------------------------------------------------------
def claim_in_thread(outcome: dict, name: str, **claim) -> threading.Thread:
    def run():
        try:
            outcome[name] = pending.claim(**claim)
        except Exception as exc:  # judged by the test
            outcome[name] = exc
        finally:
            connections.close_all()

    return threading.Thread(target=run, name=name)


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_claims_at_the_same_moment_hand_the_upload_to_one(rm1, lock_waiters):
    """Two confirms of one token (a double click) get as far as claiming together: the test holds
    the upload (PostgreSQL: its row, FOR UPDATE; SQLite: the write lock of an open transaction)
    until both wait on it, then lets them go at once."""
    token = keep(rm1, b"the file")
    outcome: dict = {}
    threads = [claim_in_thread(outcome, name, owner=rm1, kind=KIND, token=token) for name in ("first", "second")]
    with transaction.atomic():
        PendingUpload.objects.select_for_update().filter(code=token).values_list("pk").get()
        for thread in threads:
            thread.start()
        lock_waiters.wait(len(threads))
        lock_waiters.letting_go()
    for thread in threads:
        thread.join(timeout=30)
    lock_waiters.assert_waited()

    assert sorted(outcome.values(), key=lambda got: got is not None) == [None, (b"the file", {"name": "data.csv"})]
    assert not PendingUpload.objects.exists()
