"""The scorecard page after publishing: the re-grade's progress while it runs, and its end —
when it finished and how many customers changed tier, or why it failed. Jobs run through the
project's own runner (``run_jobs``), as a worker runs them."""

from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import Job, JobStatus
from customers.models import GradeReason, Scorecard
from customers.regrade import active_scorecard, regrade
from customers.services import scorecard_copy
from tests.conftest import run_jobs, run_one_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(client, admin_user, graded_customer):
    """A stricter draft published by the admin: the customer drops from AA to A once re-graded."""
    regrade(reason=GradeReason.SCHEDULED)
    draft = scorecard_copy(scorecard=active_scorecard(), by=admin_user)
    Scorecard.objects.filter(pk=draft.pk).update(cutoff_aa=Decimal("99"))
    client.force_login(admin_user)
    response = client.post(reverse("admin:customers_scorecard_publish", args=[draft.pk]))
    assert response.status_code == 302
    return response["Location"]


def status_of(client, url) -> str:
    return client.get(url).content.decode()


def test_the_page_publish_leads_to_shows_the_regrade_waiting_then_running_then_done(client, published, settings):
    page = status_of(client, published)
    assert "Waiting for a background worker" in page and 'hx-trigger="every 2s"' in page

    run_one_job(parent=None)  # the re-grade splits into its batches; none has run yet
    page = status_of(client, published)
    assert "0 of 1 batches" in page and "0 customers re-graded so far" in page
    assert '<progress class="regrade-progress" max="1" value="0">' in page

    run_jobs()
    page = status_of(client, published)
    job = Job.objects.get(parent=None, task="customers.tasks.portfolio_regrade")
    assert job.status == JobStatus.DONE
    # Then the statistics of the tables it rewrote (crm.sql.analyze_stale).
    assert Job.objects.get(task="customers.tasks.grades_analyze").status == JobStatus.DONE
    assert "Re-grade finished at" in page and "1 customer changed tier." in page
    assert "1 customer re-graded." in page
    assert 'hx-trigger="every 2s"' not in page  # finished: polling stops


def test_the_polled_fragment_is_the_status_alone(client, published):
    card = Scorecard.objects.get(status="active")
    url = reverse("admin:customers_scorecard_regrade", args=[card.pk])
    fragment = client.get(url).content.decode()
    assert fragment.lstrip().startswith("<div") and 'data-testid="regrade-status"' in fragment
    assert f'hx-get="{url}"' in fragment


def test_a_failed_regrade_says_why(client, published):
    Job.objects.filter(parent=None).update(
        status=JobStatus.FAILED, last_error="OperationalError: the database restarted"
    )
    page = status_of(client, published)
    assert "Re-grade failed: OperationalError: the database restarted" in page
    assert 'hx-trigger="every 2s"' not in page


def test_a_relationship_manager_cannot_poll_the_regrade(client, published, rm1):
    card = Scorecard.objects.get(status="active")
    client.force_login(rm1)
    response = client.get(reverse("admin:customers_scorecard_regrade", args=[card.pk]))
    assert response.status_code in (302, 403)
