"""The customer table's storage settings on PostgreSQL, on which the re-grade's speed and the
dashboard's index-only counts depend (README: PostgreSQL at a million customers)."""

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db


def test_customer_table_keeps_room_for_updates_and_is_vacuumed_at_one_percent():
    applied = MigrationRecorder.Migration.objects.filter(app="customers").values_list("name", flat=True)
    assert {"0013_watch_index_fewer_writes", "0017_customer_autovacuum"} <= set(applied)
    if connection.vendor != "postgresql":
        return  # SQLite has no such settings; the migrations do nothing there
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'customers_customer'")
        options = set(cursor.fetchone()[0])
    assert {"fillfactor=50", "autovacuum_vacuum_scale_factor=0.01"} <= options
