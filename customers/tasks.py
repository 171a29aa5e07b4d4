"""Celery tasks: thin wrappers that take ids and call plain functions."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from crm.models import User
from crm.roles import Role
from customers.models import Customer

log = logging.getLogger(__name__)


@shared_task
def customer_created_notify(customer_id: int, created_by_id: int) -> int:
    """Tell the team's managers that a customer was registered. Returns mails sent."""
    customer = Customer.objects.select_related("owner", "team").filter(pk=customer_id).first()
    if customer is None:  # deleted before the worker got to it
        return 0
    managers = (
        User.objects.filter(team_id=customer.team_id, is_active=True, groups__name=Role.TEAM_MANAGER.value)
        .exclude(pk=created_by_id)
        .exclude(email="")
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
