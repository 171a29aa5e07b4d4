"""Celery tasks: thin wrappers that take ids and call plain functions (crm.jobs runs them)."""

import logging
from dataclasses import asdict

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from crm import sql
from crm.jobs import MINUTE, background_job, fan_out, periodic_job
from crm.roles import Role, users_with_role
from crm.sql import id_ranges
from customers.exchange import background, pending
from customers.models import Customer, Grade, GradeReason
from customers.regrade import regrade_range

log = logging.getLogger(__name__)


@background_job(time_limit=2 * MINUTE)
def customer_created_notify(*, customer_id: int, created_by_id: int) -> int:
    """Tell the team's managers that a customer was registered. Returns mails sent."""
    customer = Customer.objects.select_related("owner", "team").filter(pk=customer_id).first()
    if customer is None:  # deleted before the worker got to it
        return 0
    managers = (
        users_with_role(Role.TEAM_MANAGER).filter(team_id=customer.team_id).exclude(pk=created_by_id).exclude(email="")
    )
    sent = 0
    for manager in managers:
        with translation.override(manager.language or settings.LANGUAGE_CODE):
            subject = _("New customer: %(name)s") % {"name": customer.name}
            # A header with a line break is refused (BadHeaderError) and the notice lost; the
            # forms refuse such names now, but rows saved before, or by admin, may hold one.
            subject = " ".join(subject.split())
            body = _("%(owner)s registered %(name)s (credit code %(code)s) for your team.\n\n%(url)s") % {
                "owner": customer.owner,
                "name": customer.name,
                "code": customer.credit_code,
                "url": settings.SITE_URL.rstrip("/") + reverse("customers:detail", args=[customer.code]),
            }
        sent += send_mail(subject, body, None, [manager.email])
    log.info("customer %s created: notified %d manager(s)", customer_id, sent)
    return sent


@periodic_job(lock="portfolio_regrade", time_limit=5 * MINUTE)
def portfolio_regrade(*, reason: str = GradeReason.SCHEDULED) -> dict:
    """Re-grade the whole portfolio (beat: nightly; also after a scorecard or a tier policy
    changes): one batch job per id range of ``REGRADE_BATCH_SIZE`` customers (settings), spread
    over the workers; 20,000 take a few seconds, far inside a batch's time limit.

    Each batch grades with the scorecard active when it runs, so a run still going when a
    new card is published converges on it; a batch is idempotent, so a retried or repeated
    one writes nothing the second time."""
    size = settings.REGRADE_BATCH_SIZE
    batches = [{"lo": lo, "hi": hi, "reason": reason} for lo, hi in id_ranges(Customer.objects.all(), size)]
    return {"batches": fan_out(portfolio_regrade_batch, batches, then=grades_analyze)}


@background_job(time_limit=2 * MINUTE)
def portfolio_regrade_batch(*, lo: int, hi: int, reason: str) -> dict:
    """Re-grade the customers with lo <= id < hi (one batch of portfolio_regrade)."""
    return asdict(regrade_range(lo=lo, hi=hi, reason=reason))


@background_job(time_limit=2 * MINUTE)
def grades_analyze() -> dict:
    """After the last batch of a portfolio re-grade: renew the statistics of the customer and
    grade tables if the re-grade changed them by more than a tenth (crm.sql.analyze_stale) —
    after a scorecard publication it rewrote every customer and appended as many grades. The
    customer table is vacuumed as well, so that the pages' index-only counts stay index-only, and
    the grades it appended are summarised into the grade table's BRIN indexes."""
    return {
        "analyzed": sql.analyze_stale(Customer, vacuum=True) + sql.analyze_stale(Grade),
        "summarized": sql.brin_summarize(Grade),
    }


@background_job(time_limit=10 * MINUTE)
def customer_import_run(*, upload: str, kind: str, name: str, language: str) -> dict:
    """Write a confirmed customer import (customers or their data) in the background."""
    return background.import_run(upload=upload, writer=background.customer_writer(kind), language=language)


@periodic_job(lock="pending_uploads_purge", time_limit=10 * MINUTE)
def pending_uploads_purge() -> dict:
    """Hourly: delete the uploads waiting for confirmation that have expired."""
    deleted = pending.pending_uploads_purge()
    log.info("pending uploads purge: deleted %d expired upload(s)", deleted)
    return {"deleted": deleted}
