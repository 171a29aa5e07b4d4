"""crm.sql.analyze_stale: after a job's bulk writes, the tables it changed by more than a tenth
get fresh planner statistics; the rest are left alone."""

import pytest
from django.db import connection

from crm.models import Team
from crm.sql import analyze_stale
from tests.conftest import flush_table_stats

# Committed rows: PostgreSQL counts changes only once they commit. serialized_rollback puts the
# content types and groups back after the flush, as for every transactional test here.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _statistics_rows(table: str) -> int | None:
    """How many rows the planner believes the table holds (None: never analysed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT last_analyze IS NULL, reltuples FROM pg_stat_user_tables s "
                "JOIN pg_class c ON c.oid = s.relid WHERE s.relname = %s",
                [table],
            )
            never, tuples = cursor.fetchone()
            return None if never else int(tuples)
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return None
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
        row = cursor.fetchone()
        return None if row is None else int(row[0].split()[0])


def test_a_bulk_insert_gets_its_table_analysed_once():
    table = Team._meta.db_table
    Team.objects.bulk_create(Team(name=f"team {n:04d}") for n in range(600))
    if connection.vendor == "postgresql":
        flush_table_stats()

    assert analyze_stale(Team) == [table]
    assert _statistics_rows(table) == 600

    if connection.vendor == "postgresql":
        # Nothing changed since: the statistics are current, no second ANALYZE.
        flush_table_stats()
        assert analyze_stale(Team) == []


def test_a_small_change_to_a_big_table_is_left_to_autovacuum():
    table = Team._meta.db_table
    Team.objects.bulk_create(Team(name=f"team {n:04d}") for n in range(1000))
    if connection.vendor == "postgresql":
        flush_table_stats()
    assert analyze_stale(Team) == [table]
    Team.objects.filter(name__lt="team 0100").delete()
    if connection.vendor == "postgresql":
        flush_table_stats()
        # 100 of 1,000 rows: under 50 + 10 %, so PostgreSQL keeps the statistics it has.
        assert analyze_stale(Team) == []
        assert _statistics_rows(table) == 1000
    else:
        # SQLite keeps no count of changes: every table named is analysed.
        assert analyze_stale(Team) == [table]
        assert _statistics_rows(table) == 900
