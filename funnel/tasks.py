"""Celery tasks: thin wrappers that take ids and call plain functions."""

import logging
from datetime import timedelta

from celery import shared_task

from crm.locks import job_lock
from funnel import analytics, services

log = logging.getLogger(__name__)


@shared_task(time_limit=30 * 60, soft_time_limit=25 * 60)
def deals_flag_stale() -> dict:
    """Daily: flag deals past their stage's expected days (risk alerts read the flag)."""
    with job_lock("deals_flag_stale", ttl=timedelta(minutes=30)) as mine:
        if not mine:
            log.info("stale-deal flagging already running; skipped")
            return {"skipped": True}
        result = services.deals_flag_stale()
    log.info("stale deals: %(flagged)d flagged, %(cleared)d cleared", result)
    return {"skipped": False, **result}


@shared_task(time_limit=30 * 60, soft_time_limit=25 * 60)
def funnel_rollup_rebuild() -> dict:
    """Rebuild the precomputed funnel analytics (beat: every 15 minutes by default)."""
    with job_lock("funnel_rollup_rebuild", ttl=timedelta(minutes=30)) as mine:
        if not mine:
            log.info("funnel rollup already rebuilding; skipped")
            return {"skipped": True}
        run = analytics.rollup_rebuild()
    log.info("funnel rollup rebuilt: %d deals in %.1f s", run.deals, run.seconds)
    return {"skipped": False, "deals": run.deals, "seconds": run.seconds}
