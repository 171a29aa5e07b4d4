"""Escalation: a critical alert nobody acknowledged in time goes to the customer's team manager."""

import datetime
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import User
from crm.roles import Role, users_with_role
from risk.models import Alert, AlertEvent, AlertEventKind, AlertRule, AlertSeverity, AlertStatus

log = logging.getLogger(__name__)
BATCH_SIZE = 500


def alerts_escalate(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """Escalate, once, every critical alert still open (not acknowledged) more than its rule's
    ``escalate_after_hours`` after it opened; rules without hours never escalate.

    The alert gets ``escalated_at`` and ``escalated_to`` — the customer's team's active team
    manager, the first by username; none leaves it empty but the escalation is still recorded
    (the risk officers see it on the alert list and in the event) — and an ``escalated`` event
    whose note names the manager.

    Each alert is claimed by a compare-and-set ``UPDATE … WHERE escalated_at IS NULL AND
    status = 'open'`` in the same transaction as its event: of two workers, or of this job and
    someone acknowledging at that moment, one wins and the other changes nothing. Returns
    ``{"escalated", "without_manager"}``."""
    now = now or timezone.now()
    counts = {"escalated": 0, "without_manager": 0}
    rules = AlertRule.objects.filter(escalate_after_hours__isnull=False).values_list("pk", "escalate_after_hours")
    for rule_id, hours in rules:
        if hours is None:  # the filter above leaves none; this tells the type checker
            continue
        # The candidate query walks the partial index alert_to_escalate (open, critical, not yet
        # escalated, by opened_at). "More than" the hours: exactly on the hour is not yet late.
        due = Alert.objects.filter(
            rule_id=rule_id,
            status=AlertStatus.OPEN,
            severity=AlertSeverity.CRITICAL,
            escalated_at__isnull=True,
            opened_at__lt=now - timedelta(hours=hours),
        )
        while True:
            batch = list(due.order_by("opened_at", "id").values_list("pk", "team_id")[:batch_size])
            if not batch:
                break
            managers = _team_managers({team_id for _pk, team_id in batch})
            claimed = 0
            for pk, team_id in batch:
                manager = managers.get(team_id)
                if _escalate_one(pk, manager, now):
                    claimed += 1
                    counts["escalated"] += 1
                    counts["without_manager"] += manager is None
            if not claimed:
                # Another worker took every one of them between our read and our writes; what
                # is left for this rule is theirs to finish.
                break
    log.info("alerts escalated: %(escalated)d (%(without_manager)d without a team manager)", counts)
    return counts


def _escalate_one(pk: int, manager: User | None, now: datetime.datetime) -> bool:
    with transaction.atomic():
        won = Alert.objects.filter(pk=pk, escalated_at__isnull=True, status=AlertStatus.OPEN).update(
            escalated_at=now, escalated_to=manager
        )
        if won:
            # Stored in the site's language: the event is history, not a message to one person.
            with translation.override(settings.LANGUAGE_CODE):
                note = (
                    _("Escalated to %(manager)s.") % {"manager": manager}
                    if manager is not None
                    else _("Escalated, but the customer's team has no active team manager.")
                )
            AlertEvent.objects.create(alert_id=pk, kind=AlertEventKind.ESCALATED, by=None, at=now, note=note)
    return bool(won)


def _team_managers(team_ids: set) -> dict[int, User]:
    """Each team's active team manager, the first by username."""
    managers: dict[int, User] = {}
    teams = [t for t in team_ids if t is not None]
    for user in users_with_role(Role.TEAM_MANAGER).filter(team_id__in=teams).order_by("team_id", "username"):
        managers.setdefault(user.team_id, user)
    return managers
