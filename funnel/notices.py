"""The mails the funnel sends. Called by its background jobs (funnel.tasks), never by a request:
the request writes the job in its transaction (crm.jobs), the worker sends."""

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from funnel.deciders import deciders
from funnel.models import ExceptionStatus, TermsException


def exception_requested_notify(*, exception_id: int) -> int:
    """Tell whoever may decide a terms exception that it waits for them, each in their own
    language. Returns the number of mails sent; none when the request was decided (or the deal
    deleted) before the worker got to it."""
    exception = (
        TermsException.objects.select_related("deal__customer", "requested_by")
        .filter(pk=exception_id, status=ExceptionStatus.PENDING)
        .first()
    )
    if exception is None:
        return 0
    deal = exception.deal
    site = settings.SITE_URL.rstrip("/")
    sent = 0
    for user in deciders(exception, deal).exclude(email=""):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = _("Exception to decide: %(deal)s (%(customer)s)") % {
                "deal": deal.title,
                "customer": deal.customer.name,
            }
            # A header with a line break is refused (BadHeaderError) and the notice lost.
            subject = " ".join(subject.split())
            body = _(
                "%(requester)s asks for an exception to the tier policy on %(deal)s for %(customer)s.\n\n"
                "Reason: %(reason)s\n\n"
                "Decide it on the deal page: %(url)s\n"
                "Every exception waiting for you: %(queue)s"
            ) % {
                "requester": exception.requested_by,
                "deal": deal.title,
                "customer": deal.customer.name,
                "reason": exception.reason,
                "url": site + reverse("funnel:detail", args=[deal.code]) + "#terms",
                "queue": site + reverse("funnel:exceptions"),
            }
        sent += send_mail(subject, body, None, [user.email])
    return sent
