"""The portfolio re-grade as a job: split into id-range batches, each its own job, the whole
done when the last batch is; held to one run at a time by a short lease."""

import json
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection, transaction

from crm.jobs.leases import lease_take
from crm.models import Job, JobStatus
from customers.models import Customer, Grade, GradeReason, Scorecard, ScorecardStatus
from customers.regrade import regrade
from customers.services import scorecard_copy
from customers.tasks import grades_analyze, portfolio_regrade
from tests.conftest import flush_table_stats, lease_held, wait_for
from tests.factories import GRADEABLE, CustomerFactory

pytestmark = pytest.mark.django_db


def test_task_regrades_in_batches_and_a_second_run_writes_nothing(graded_customer, settings):
    settings.REGRADE_BATCH_SIZE = 2
    others = CustomerFactory.create_batch(4, owner=graded_customer.owner, team=graded_customer.team)
    assert portfolio_regrade() == {"batches": 3}
    run = Job.objects.get(task="customers.tasks.portfolio_regrade")
    assert (run.status, run.batches_total, run.batches_done) == (JobStatus.DONE, 3, 3)
    assert run.batches.filter(status=JobStatus.DONE).count() == 3
    # The four others have no inputs: graded Unrated as they were, so no grade row (history shows changes).
    assert sum(b.result["grades"] for b in run.batches.all()) == 1
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"
    assert all(c.scorecard_id for c in Customer.objects.filter(pk__in=[o.pk for o in others]))
    portfolio_regrade()
    again = Job.objects.filter(task="customers.tasks.portfolio_regrade").first()
    assert sum(b.result["written"] for b in again.batches.all()) == 0
    assert Grade.objects.count() == 1


def test_overlapping_run_skips_while_the_lease_is_held(graded_customer):
    with lease_held("portfolio_regrade"):
        assert portfolio_regrade() == {"skipped": True}
    assert not Grade.objects.exists()
    assert "skipped" not in portfolio_regrade()
    assert Grade.objects.filter(customer=graded_customer).exists()


def test_a_lease_left_by_a_killed_worker_runs_out_within_a_minute(graded_customer, settings):
    with time_machine.travel("2026-06-01 02:30 +0800", tick=False) as traveller:
        assert lease_take("portfolio_regrade", holder="a-worker-that-died")  # never released
        assert portfolio_regrade() == {"skipped": True}
        traveller.shift(timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1))
        assert "skipped" not in portfolio_regrade()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_regrade_runs_through_a_real_worker(celery_worker, graded_customer):
    portfolio_regrade.delay()
    assert wait_for(lambda: Grade.objects.filter(customer=graded_customer).exists())
    assert wait_for(lambda: Job.objects.filter(parent__isnull=True, status=JobStatus.DONE).exists())
    graded_customer.refresh_from_db()
    assert graded_customer.tier == "AA"


def _heap_fetches_of_the_watch_list_count() -> int:
    """How many table rows PostgreSQL reads to count the watch list as the dashboard does, with
    an index-only scan of its partial index (forced, as the planner picks it at scale)."""
    count = f"SELECT COUNT(*) FROM {Customer._meta.db_table} WHERE watch_review_by IS NOT NULL"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {count}")
        plan = cursor.fetchone()[0]
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, fetches = [plan[0]["Plan"]], []
    while nodes:
        node = nodes.pop()
        if node["Node Type"] == "Index Only Scan":
            fetches.append(node["Heap Fetches"])
        nodes += node.get("Plans", [])
    assert fetches, "the count was not an index-only scan"
    return sum(fetches)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_a_portfolio_regrade_the_watch_list_count_reads_only_its_index(rm1):
    CustomerFactory.create_batch(120, owner=rm1, team=rm1.team, watch_review_by=date(2026, 7, 1))
    table = Customer._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {table}")
        assert _heap_fetches_of_the_watch_list_count() == 0
    # Every customer is graded for the first time: each row is rewritten in place.
    assert regrade(reason=GradeReason.SCORECARD_PUBLISHED).written == 120
    if connection.vendor == "postgresql":
        # Every page lost its all-visible mark: each of the 120 is read from the table (or more
        # than once, where an update was not in place and left an old index entry).
        assert _heap_fetches_of_the_watch_list_count() >= 120
        flush_table_stats()

    assert table in grades_analyze()["analyzed"]

    if connection.vendor == "postgresql":
        assert _heap_fetches_of_the_watch_list_count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_a_portfolio_regrade_its_grades_are_summarised_for_the_brin_indexes(rm1):
    """The grade history's (created_at) and (scorecard) indexes are BRIN (customers/0019). Pages
    appended since their last summary are read by every lookup, until grades_analyze, the
    re-grade's last step, summarises them: a draft's delete check then reads next to nothing."""
    customer = CustomerFactory(owner=rm1, team=rm1.team, **GRADEABLE)
    assert regrade(reason=GradeReason.SCORECARD_PUBLISHED).grades == 1
    draft = scorecard_copy(scorecard=Scorecard.objects.get(status=ScorecardStatus.ACTIVE), by=rm1)
    if connection.vendor != "postgresql":
        assert grades_analyze()["summarized"] == 0  # no BRIN on SQLite
        return
    # 20,000 grades, as a re-grade of a large portfolio appends them (a few hundred pages).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_grade (customer_id, tier, computed_tier, previous_tier, score, breakdown,"
            " scorecard_id, reason, created_at) SELECT customer_id, tier, computed_tier, previous_tier, score,"
            " breakdown, scorecard_id, reason, created_at FROM customers_grade, generate_series(1, 20000)"
        )
    assert _pages_read_for_grades_of(draft) > 500  # the new pages, all of them
    summarized = grades_analyze()["summarized"]
    assert summarized >= 4  # the new pages' full ranges, in each of the two indexes
    assert grades_analyze()["summarized"] == 0  # nothing new since
    assert _pages_read_for_grades_of(draft) < 130  # at most the last, partial range
    assert Grade.objects.filter(customer=customer).count() == 20001


def _pages_read_for_grades_of(card) -> int:
    """Heap pages the foreign key's check reads for a scorecard's grades (EXPLAIN, bitmap scan)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the planner's choice on a small table varies
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1 FROM customers_grade WHERE scorecard_id = %s",
            [card.pk],
        )
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return plan[0]["Plan"]["Shared Hit Blocks"] + plan[0]["Plan"]["Shared Read Blocks"]
