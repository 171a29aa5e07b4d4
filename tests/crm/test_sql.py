from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import User
from crm.sql import Params, id_batch, id_ranges


def test_embed_moves_a_fragments_values_into_named_parameters():
    p = Params()
    p.add("first")
    sql = p.embed("f(a.x, %s, %s) LIKE '10%%'", ("Asia/Shanghai", "UTC"))
    assert sql == "f(a.x, %(p1)s, %(p2)s) LIKE '10%%'"  # a literal %% stays a literal
    assert p == {"p0": "first", "p1": "Asia/Shanghai", "p2": "UTC"}


def test_embed_refuses_a_fragment_whose_placeholders_do_not_match_its_values():
    with pytest.raises(ValueError, match="2 placeholders for 1 parameters"):
        Params().embed("f(%s, %s)", ("one",))


@pytest.mark.django_db
def test_a_local_date_fragment_runs_with_its_time_zone_as_a_parameter(rm1):
    # 17:00 UTC is already the next day in Shanghai (settings.TIME_ZONE): the watch list counts
    # an alert's day this way.
    User.objects.filter(pk=rm1.pk).update(date_joined=datetime(2024, 6, 1, 17, 0, tzinfo=UTC))
    p = Params()
    day = p.embed(*connection.ops.datetime_cast_date_sql("u.date_joined", (), timezone.get_current_timezone_name()))
    batch = id_batch(p, ids=[rm1.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {day} FROM {User._meta.db_table} u WHERE {batch('u')}", p)  # noqa: S608
        assert str(cursor.fetchone()[0]) == "2024-06-02"


@pytest.mark.django_db
def test_id_batches_cover_every_row_once(rm1, rm2):
    p = Params()
    batches = [id_batch(p, lo=lo, hi=hi) for lo, hi in id_ranges(User.objects.all(), 2)]
    found = []
    with connection.cursor() as cursor:
        for batch in batches:
            cursor.execute(f"SELECT u.id FROM {User._meta.db_table} u WHERE {batch('u')}", p)  # noqa: S608
            found += [row[0] for row in cursor.fetchall()]
    assert sorted(found) == sorted(User.objects.values_list("pk", flat=True))


def test_an_id_batch_needs_bounds_or_ids():
    with pytest.raises(ValueError):
        id_batch(Params(), lo=1)
