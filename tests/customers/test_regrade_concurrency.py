"""Two re-grades of the whole portfolio at the same moment (no lock taken, on purpose): each
customer's grade is written once and its history row appended once."""

import threading

import pytest
from django.db import connections

from customers.models import Customer, Grade, GradeReason
from customers.regrade import regrade
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_simultaneous_runs_write_each_grade_once(rm1):
    for i in range(60):
        CustomerFactory(
            owner=rm1,
            team=rm1.team,
            registered_capital=10_000_000 * (i + 1),
            industry_position="major",
            bureau_rating="A",
            has_litigation=False,
            overdue_count=i % 3,
            debt_ratio="0.6",
            current_ratio="1.2",
            project_amount="80000000",
            cooperation_since="2020-01-01",
        )
    start = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(regrade(reason=GradeReason.SCHEDULED, batch_size=7))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(r.grades for r in results) == 60
    assert Grade.objects.count() == 60
    assert Grade.objects.values("customer").distinct().count() == 60
    assert not Customer.objects.filter(graded_at__isnull=True).exists()
