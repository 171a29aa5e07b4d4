"""The outbox's own beat task. Not a background_job: it runs every few seconds and keeps no
row of its own; it is idempotent and cheap when there is nothing to do (a few indexed reads)."""

import logging

from celery import shared_task

from crm import jobs

log = logging.getLogger(__name__)


@shared_task(time_limit=60, soft_time_limit=50)
def jobs_sweep() -> dict:
    """Every few seconds (beat): send the jobs that wait, again the ones that were lost."""
    result = jobs.jobs_sweep()
    if result["sent"] or result["resent"] or result["purged"]:
        log.info("jobs sweep: %s", result)
    return result
