"""Celery tasks of the risk app: thin wrappers that take no objects and call the services.

The beat schedules that call these names ship in migration risk/0005 (editable in admin).
Each runs under ``crm.jobs.periodic_job``: its own lease (a second beat or an overlapping run
skips; a redelivered message of the same run takes over), retries on database and broker
errors, and time limits below the broker's visibility timeout. Every service here is
idempotent and commits batch by batch, so a retried or repeated run is harmless."""

import logging

from crm.jobs import MINUTE, periodic_job
from risk import digest, escalation, reviews, watch
from risk.alerts import evaluate
from risk.dashboard import rollup_rebuild

log = logging.getLogger(__name__)


@periodic_job(lock="alerts_evaluate", time_limit=10 * MINUTE)
def alerts_evaluate() -> dict:
    """Hourly: bring facility limits in line with credit limits, evaluate the alert rules, then
    refresh the watch list from the alerts now open — in that order, so a downgrade's lowered
    limit is a breach in the same run and a new alert is on the watch list at once."""
    limits = watch.facility_limits_follow()
    alerts = evaluate()
    watched = watch.watch_refresh()
    return {"limits": limits, "alerts": alerts, "watch": watched}


@periodic_job(lock="alerts_escalate", time_limit=10 * MINUTE)
def alerts_escalate() -> dict:
    """Every 15 minutes: escalate critical alerts left open past their rule's hours."""
    return escalation.alerts_escalate()


@periodic_job(lock="reviews_flag_due", time_limit=10 * MINUTE)
def reviews_flag_due() -> dict:
    """Daily: remind relationship managers of reviews coming due."""
    return reviews.reviews_flag_due()


@periodic_job(lock="digest_send", time_limit=10 * MINUTE)
def digest_send() -> dict:
    """Daily: mail each team manager the alert digest."""
    return digest.digest_send()


@periodic_job(lock="risk_rollup_rebuild", time_limit=10 * MINUTE)
def risk_rollup_rebuild() -> dict:
    """Every 30 minutes: rebuild the risk dashboard's monthly figures."""
    run = rollup_rebuild()
    log.info("risk rollup rebuilt: %s", run)
    return run
