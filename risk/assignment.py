"""Who works an alert: assigning it to a person who may see its customer."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk.access import alert_assignees
from risk.exceptions import InputRefused
from risk.models import UNRESOLVED, Alert, AlertEvent, AlertEventKind, AlertStatus


class AssignmentRefused(InputRefused):
    """The assignment does not apply: the person may not see the customer, or the alert is
    resolved. Nothing was changed."""


def alert_assign(*, alert: Alert, assignee, by) -> bool:
    """Make ``assignee`` the person working ``alert``; an ``assigned`` event records who did it
    and when, its note names the assignee. Returns False (and records nothing) when the alert
    was already theirs.

    The assignee must be one of ``alert_assignees``: assigning an alert to someone
    who cannot open its customer would leave it with nobody able to act. A resolved alert keeps
    the assignee it was closed with."""
    if not alert_assignees(alert).filter(pk=assignee.pk).exists():
        raise AssignmentRefused(
            [_("%(person)s cannot see this customer, so the alert cannot be assigned to them.") % {"person": assignee}]
        )
    now = timezone.now()
    with transaction.atomic():
        # Compare-and-set: the status condition keeps a resolve that wins the race final; the
        # assignee condition makes a repeated click a no-op rather than a second event.
        updated = (
            Alert.objects.filter(pk=alert.pk, status__in=UNRESOLVED)
            .exclude(assignee_id=assignee.pk)
            .update(assignee=assignee)
        )
        if updated:
            AlertEvent.objects.create(alert=alert, kind=AlertEventKind.ASSIGNED, by=by, at=now, note=str(assignee))
    alert.refresh_from_db()
    if not updated and alert.status == AlertStatus.RESOLVED:
        raise AssignmentRefused([_("This alert is resolved; a resolved alert is not assigned any more.")])
    return bool(updated)
