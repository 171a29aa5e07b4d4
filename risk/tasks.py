"""Celery tasks of the risk app: thin wrappers that take no objects and call the services.

The beat schedules that call these names ship in migration risk/0005 (editable in admin).
Each task runs under ``crm.locks.job_lock``: a second beat, an overlapping run or a redelivered
message finds the lock held and skips. Time limits stay below the broker's
``visibility_timeout`` (2 h, crm/settings.py) so Redis never hands a task still running to a
second worker; tasks are acked late and rejected on worker loss (set globally in settings), so
a killed worker's task comes back — harmless, since every service here is idempotent and
commits batch by batch. The lock's ttl outlasts the hard time limit, so a running task never
loses its lock, and a killed one frees it within the ttl."""

import logging
from datetime import timedelta

from celery import shared_task

from crm.locks import job_lock
from risk import digest, escalation, reviews, watch
from risk.alerts import evaluate
from risk.dashboard import rollup_rebuild

log = logging.getLogger(__name__)
MINUTE = 60


@shared_task(time_limit=50 * MINUTE, soft_time_limit=45 * MINUTE)
def alerts_evaluate() -> dict:
    """Hourly: bring facility limits in line with credit limits, evaluate the alert rules, then
    refresh the watch list from the alerts now open — in that order, so a downgrade's lowered
    limit is a breach in the same run and a new alert is on the watch list at once."""
    with job_lock("alerts_evaluate", ttl=timedelta(minutes=55)) as mine:
        if not mine:
            log.info("alert evaluation already running; skipped")
            return {"skipped": True}
        limits = watch.facility_limits_follow()
        alerts = evaluate()
        watched = watch.watch_refresh()
    return {"skipped": False, "limits": limits, "alerts": alerts, "watch": watched}


@shared_task(time_limit=10 * MINUTE, soft_time_limit=8 * MINUTE)
def alerts_escalate() -> dict:
    """Every 15 minutes: escalate critical alerts left open past their rule's hours."""
    with job_lock("alerts_escalate", ttl=timedelta(minutes=12)) as mine:
        if not mine:
            log.info("alert escalation already running; skipped")
            return {"skipped": True}
        result = escalation.alerts_escalate()
    return {"skipped": False, **result}


@shared_task(time_limit=30 * MINUTE, soft_time_limit=25 * MINUTE)
def reviews_flag_due() -> dict:
    """Daily: remind relationship managers of reviews coming due."""
    with job_lock("reviews_flag_due", ttl=timedelta(minutes=35)) as mine:
        if not mine:
            log.info("review reminders already running; skipped")
            return {"skipped": True}
        result = reviews.reviews_flag_due()
    return {"skipped": False, **result}


@shared_task(time_limit=30 * MINUTE, soft_time_limit=25 * MINUTE)
def digest_send() -> dict:
    """Daily: mail each team manager the alert digest."""
    with job_lock("digest_send", ttl=timedelta(minutes=35)) as mine:
        if not mine:
            log.info("alert digest already running; skipped")
            return {"skipped": True}
        result = digest.digest_send()
    return {"skipped": False, **result}


@shared_task(time_limit=25 * MINUTE, soft_time_limit=20 * MINUTE)
def risk_rollup_rebuild() -> dict:
    """Every 30 minutes: rebuild the risk dashboard's monthly figures."""
    with job_lock("risk_rollup_rebuild", ttl=timedelta(minutes=28)) as mine:
        if not mine:
            log.info("risk rollup already rebuilding; skipped")
            return {"skipped": True}
        run = rollup_rebuild()
    log.info("risk rollup rebuilt: %s", run)
    return {"skipped": False, **run}
