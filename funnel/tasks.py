"""Celery tasks: thin wrappers that take ids and call plain functions (crm.jobs runs them)."""

import logging

from crm import sql
from crm.jobs import MINUTE, background_job, periodic_job
from funnel import analytics, notices, services
from funnel.models import FunnelRollup

log = logging.getLogger(__name__)


@periodic_job(lock="deals_flag_stale", time_limit=10 * MINUTE)
def deals_flag_stale() -> dict:
    """Daily: flag deals past their stage's expected days (risk alerts read the flag)."""
    result = services.deals_flag_stale()
    log.info("stale deals: %(flagged)d flagged, %(cleared)d cleared", result)
    return result


@periodic_job(lock="funnel_rollup_rebuild", time_limit=10 * MINUTE)
def funnel_rollup_rebuild() -> dict:
    """Rebuild the precomputed funnel analytics (beat: every 15 minutes by default), then renew
    the statistics of the rollup table it rewrote (crm.sql.analyze_stale)."""
    run = analytics.rollup_rebuild()
    log.info("funnel rollup rebuilt: %d deals in %.1f s", run.deals, run.seconds)
    return {"deals": run.deals, "seconds": run.seconds, "analyzed": sql.analyze_stale(FunnelRollup)}


@background_job(time_limit=2 * MINUTE)
def exception_requested_notify(*, exception_id: int) -> int:
    """Tell whoever may decide a new terms exception request. Returns mails sent."""
    sent = notices.exception_requested_notify(exception_id=exception_id)
    log.info("exception %s requested: notified %d decider(s)", exception_id, sent)
    return sent
