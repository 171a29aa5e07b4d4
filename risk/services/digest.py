"""The managers' daily alert digest.

The window. A digest covers the alerts opened or escalated in the half-open interval
(start, end]: ``end`` is the moment the run claims the manager's digest for the day (stored as
``AlertDigest.sent_at``) and ``start`` is the ``sent_at`` of the manager's previous digest — so
consecutive digests tile time with no gap and no overlap, whenever beat runs, however late a
run is, and whatever the schedule is edited to. With no earlier digest (a new manager) the
window is the 24 hours before ``end``; it never reaches back more than ``MAX_LOOKBACK`` (the
job was off, the manager away: a week of alerts, not months).

Idempotency. At most one digest per manager and local day: the ``AlertDigest(manager, day)``
row (unique) is created, then claimed by a compare-and-set ``UPDATE … SET sent_at = now WHERE
sent_at IS NULL``; only the run whose UPDATE changed the row sends. A second run the same day —
or a second worker now — finds it claimed and sends nothing. A day with nothing to report is
recorded all the same (no mail). A mail that fails to go out gives the claim back (sent_at to
NULL again) so a retry sends it (its window then ends at the retry). A worker killed between
the claim and the mail loses that one digest: the claim stays and the next window starts at
its end. That is the price of never mailing a manager twice (acks_late redelivers the task,
and the rerun finds the day claimed)."""

import datetime
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import User
from crm.roles import Role, users_with_role
from risk.access import alerts_for
from risk.models import SEVERITY_RANK, Alert, AlertDigest

log = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(hours=24)
# Alerts listed per section; the counts are always whole, and the mail links to the list. (The
# first evaluation over a portfolio can raise thousands of alerts for one team in a day.)
LISTED = 50
MAX_LOOKBACK = timedelta(days=7)


@dataclass
class Digest:
    start: datetime.datetime
    end: datetime.datetime
    new: list[Alert] = field(default_factory=list)  # the first LISTED, worst first
    escalated: list[Alert] = field(default_factory=list)
    new_total: int = 0
    escalated_total: int = 0

    @property
    def new_more(self) -> int:
        return self.new_total - len(self.new)

    @property
    def escalated_more(self) -> int:
        return self.escalated_total - len(self.escalated)

    def __len__(self) -> int:
        return self.new_total + self.escalated_total


def digest_send(*, today: datetime.date | None = None) -> dict:
    """Send each active team manager with an e-mail address and a team their digest for
    ``today`` (default: the local date). Returns ``{"sent", "empty", "already", "failed"}``:
    mails sent, days recorded with nothing to report, managers already done today (by an
    earlier run or another worker), and mails that failed (to be retried by the next run)."""
    now = timezone.now()
    day = today or timezone.localdate(now)
    counts = {"sent": 0, "empty": 0, "already": 0, "failed": 0}
    managers = users_with_role(Role.TEAM_MANAGER).filter(team__isnull=False).exclude(email="").order_by("pk")
    for manager in managers:
        counts[_digest_one(manager, day=day, now=now)] += 1
    log.info(
        "alert digest %s: %d sent, %d with nothing to report, %d already done, %d failed",
        day,
        counts["sent"],
        counts["empty"],
        counts["already"],
        counts["failed"],
    )
    return counts


def _digest_one(manager: User, *, day: datetime.date, now: datetime.datetime) -> str:
    row, _created = AlertDigest.objects.get_or_create(manager=manager, day=day)
    # The claim: of all runs that got here, only one turns sent_at from NULL to now.
    if not AlertDigest.objects.filter(pk=row.pk, sent_at__isnull=True).update(sent_at=now):
        return "already"
    try:
        digest = digest_for(manager, end=now, day=day)
        AlertDigest.objects.filter(pk=row.pk).update(alerts=len(digest))
        if not digest:
            return "empty"
        _send(manager, digest, day)
    except Exception:  # whatever failed, the claim goes back so that the next run sends it
        log.exception("alert digest to %s failed; the next run sends it", manager)
        AlertDigest.objects.filter(pk=row.pk, sent_at=now).update(sent_at=None, alerts=0)
        return "failed"
    return "sent"


def digest_for(manager: User, *, end: datetime.datetime, day: datetime.date) -> Digest:
    """The alerts for ``manager``'s digest of ``day`` whose window ends at ``end`` (see the
    module docstring). Only the alerts the manager may see (alerts_for: their
    team's customers). An alert both opened and escalated in the window is listed once, as
    escalated; an alert resolved since it opened is still listed, with its status."""
    previous = (
        AlertDigest.objects.filter(manager=manager, day__lt=day, sent_at__isnull=False)
        .order_by("-day")
        .values_list("sent_at", flat=True)
        .first()
    )
    start = max(previous, end - MAX_LOOKBACK) if previous else end - FIRST_WINDOW
    alerts = (
        alerts_for(manager)
        .select_related("customer", "rule", "escalated_to")
        .order_by(SEVERITY_RANK, "customer__name", "opened_at", "id")
    )
    escalated_in = Q(escalated_at__gt=start, escalated_at__lte=end)
    escalated = alerts.filter(escalated_in)
    new = alerts.filter(opened_at__gt=start, opened_at__lte=end).exclude(escalated_in)
    return Digest(
        start=start,
        end=end,
        new=list(new[:LISTED]),
        escalated=list(escalated[:LISTED]),
        new_total=new.count(),
        escalated_total=escalated.count(),
    )


def _send(manager: User, digest: Digest, day: datetime.date) -> None:
    site = settings.SITE_URL.rstrip("/")
    for alert in [*digest.new, *digest.escalated]:
        alert.url = site + reverse("risk:alert", args=[alert.code])  # type: ignore[attr-defined]  # for the mail
    with translation.override(manager.language or settings.LANGUAGE_CODE):
        subject = _("Alert digest %(day)s: %(new)d new, %(escalated)d escalated") % {
            "day": day.isoformat(),
            "new": len(digest.new),
            "escalated": len(digest.escalated),
        }
        context = {"manager": manager, "digest": digest, "day": day, "site_url": site}
        text = render_to_string("risk/email/digest.txt", context)
        html = render_to_string("risk/email/digest.html", context)
    mail = EmailMultiAlternatives(subject, text, None, [manager.email])
    mail.attach_alternative(html, "text/html")
    mail.send()
