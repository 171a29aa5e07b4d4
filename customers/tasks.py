"""Celery tasks: thin wrappers that take ids and call plain functions."""

import logging
from dataclasses import asdict
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from crm.locks import job_lock
from crm.roles import Role, users_with_role
from customers.exchange import pending
from customers.models import Customer, GradeReason
from customers.regrade import regrade

log = logging.getLogger(__name__)


@shared_task
def customer_created_notify(customer_id: int, created_by_id: int) -> int:
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
            body = _("%(owner)s registered %(name)s (credit code %(code)s) for your team.\n\n%(url)s") % {
                "owner": customer.owner,
                "name": customer.name,
                "code": customer.credit_code,
                "url": settings.SITE_URL.rstrip("/") + reverse("customers:detail", args=[customer.code]),
            }
        sent += send_mail(subject, body, None, [manager.email])
    log.info("customer %s created: notified %d manager(s)", customer_id, sent)
    return sent


@shared_task(time_limit=55 * 60, soft_time_limit=50 * 60)
def portfolio_regrade(reason: str = GradeReason.SCHEDULED) -> dict:
    """Re-grade the whole portfolio (beat: nightly; also after a scorecard is published).

    One run at a time: an overlapping run, or a second beat, finds the lock taken and skips.
    Idempotent: a run with nothing changed writes nothing."""
    with job_lock("portfolio_regrade", ttl=timedelta(hours=1)) as mine:
        if not mine:
            log.info("portfolio re-grade already running; skipped")
            return {"skipped": True}
        result = regrade(reason=reason)
    return {"skipped": False, **asdict(result)}


@shared_task(time_limit=20 * 60, soft_time_limit=15 * 60)
def pending_uploads_purge() -> dict:
    """Delete the uploads waiting for confirmation that have expired (beat: hourly).

    One run at a time, like the re-grade; a run that finds nothing expired deletes nothing."""
    with job_lock("pending_uploads_purge", ttl=timedelta(minutes=30)) as mine:
        if not mine:
            log.info("pending uploads purge already running; skipped")
            return {"skipped": True}
        deleted = pending.pending_uploads_purge()
    log.info("pending uploads purge: deleted %d expired upload(s)", deleted)
    return {"skipped": False, "deleted": deleted}
