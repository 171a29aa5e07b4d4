"""Celery tasks of the risk app: thin wrappers that take no objects and call the services.

The beat schedules that call these names ship in migration risk/0005 (editable in admin).
Each runs under ``crm.jobs.periodic_job``: its own lease (a second beat or an overlapping run
skips; a redelivered message of the same run takes over), retries on database and broker
errors, and time limits below the broker's visibility timeout. Every service here is
idempotent and commits batch by batch, so a retried or repeated run is harmless."""

import datetime
import logging

from django.conf import settings
from django.utils import timezone

from crm import sql
from crm.jobs import MINUTE, background_job, fan_out, periodic_job
from crm.sql import id_ranges
from customers.exchange import background
from customers.models import Customer
from risk import imports
from risk.alerts import evaluate
from risk.dashboard import rollup_rebuild
from risk.models import Alert, AlertCondition, AlertEvent, RiskMonth
from risk.services import digest, escalation, reminders, watch

log = logging.getLogger(__name__)


@periodic_job(lock="alerts_evaluate", time_limit=10 * MINUTE)
def alerts_evaluate() -> dict:
    """Hourly: bring facility limits in line with credit limits, evaluate the alert rules, then
    refresh the watch list from the alerts now open — in that order, so a downgrade's lowered
    limit is a breach in the same run and a new alert is on the watch list at once.

    The rules are evaluated in batch jobs of ``ALERTS_BATCH_SIZE`` customers by id (spread over
    the workers, each short and idempotent); the watch list follows once the last is done."""
    limits = watch.facility_limits_follow()
    today = timezone.localdate().isoformat()  # one day for every batch, even across midnight
    size = settings.ALERTS_BATCH_SIZE
    batches = [{"lo": lo, "hi": hi, "today": today} for lo, hi in id_ranges(Customer.objects.all(), size)]
    return {"limits": limits, "batches": fan_out(alerts_evaluate_batch, batches, then=watch_refresh)}


@background_job(time_limit=5 * MINUTE)
def alerts_evaluate_batch(*, lo: int, hi: int, today: str) -> dict:
    """Evaluate every enabled rule for the customers with lo <= id < hi."""
    return evaluate(lo=lo, hi=hi, today=datetime.date.fromisoformat(today))


@periodic_job(lock="watch_refresh", time_limit=10 * MINUTE)
def watch_refresh() -> dict:
    """After the rules: the watch list from the alerts now open."""
    return watch_refresh_step()


def watch_refresh_step() -> dict:
    """What the job does, in this process (bench/alerts.py times it). The evaluation's batches
    may have written many alerts: their statistics are renewed first, so this step and the
    pages after it plan with today's numbers, and the customers' after the watch list wrote
    them."""
    analyzed = sql.analyze_stale(Alert, AlertCondition, AlertEvent)
    result = watch.watch_refresh()
    analyzed += sql.analyze_stale(Customer)
    return {**result, "analyzed": analyzed}


@periodic_job(lock="alerts_escalate", time_limit=10 * MINUTE)
def alerts_escalate() -> dict:
    """Every 15 minutes: escalate critical alerts left open past their rule's hours."""
    return escalation.alerts_escalate()


@periodic_job(lock="reviews_flag_due", time_limit=10 * MINUTE)
def reviews_flag_due() -> dict:
    """Daily: remind relationship managers of reviews coming due."""
    return reminders.reviews_flag_due()


@periodic_job(lock="digest_send", time_limit=10 * MINUTE)
def digest_send() -> dict:
    """Daily: mail each team manager the alert digest."""
    return digest.digest_send()


@periodic_job(lock="risk_rollup_rebuild", time_limit=10 * MINUTE)
def risk_rollup_rebuild() -> dict:
    """Every 30 minutes: rebuild the risk dashboard's monthly figures, then renew the statistics
    of the table it rewrote (crm.sql.analyze_stale)."""
    run = rollup_rebuild()
    log.info("risk rollup rebuilt: %s", run)
    return {**run, "analyzed": sql.analyze_stale(RiskMonth)}


@background_job(time_limit=10 * MINUTE)
def repayment_import_run(*, upload: str, name: str, language: str) -> dict:
    """Book a confirmed repayment import in the background (customers.exchange.background)."""
    return background.import_run(upload=upload, writer=imports.WRITER, language=language)
