"""What people do with an alert: acknowledge it, resolve it with a note, assign it to someone who
may see its customer. Each is a compare-and-set on the alert plus an append-only AlertEvent, in
one transaction."""

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk.access import alert_assignees
from risk.exceptions import InputRefused
from risk.models import UNRESOLVED, Alert, AlertEvent, AlertEventKind, AlertStatus


class AlertTransitionRefused(InputRefused):
    """An acknowledge or resolve that does not apply to the alert as it now stands."""


def _transition(
    *, alert: Alert, by, frm: Sequence[str], to: str, event: str, note: str = "", stamp: str, extra: dict | None = None
) -> Alert:
    """``stamp``: the alert's field that records when (acknowledged_at, resolved_at); it and the
    event get the same instant."""
    now = timezone.now()
    with transaction.atomic():
        # Compare-and-set: of two people acting at once, only the first changes the status.
        updated = Alert.objects.filter(pk=alert.pk, status__in=frm).update(status=to, **{stamp: now}, **(extra or {}))
        if not updated:
            raise AlertTransitionRefused(
                [_("This alert has changed in the meantime (it is no longer open); reload it to see where it stands.")]
            )
        AlertEvent.objects.create(alert=alert, kind=event, by=by, at=now, note=note)
    alert.refresh_from_db()
    return alert


def alert_acknowledge(*, alert: Alert, by) -> Alert:
    """Open → acknowledged: someone is looking at it."""
    return _transition(
        alert=alert,
        by=by,
        frm=[AlertStatus.OPEN],
        to=AlertStatus.ACKNOWLEDGED,
        event=AlertEventKind.ACKNOWLEDGED,
        stamp="acknowledged_at",
    )


def alert_resolve(*, alert: Alert, by, note: str) -> Alert:
    """Open or acknowledged → resolved, with a note saying what was done."""
    note = (note or "").strip()
    if not note:
        raise AlertTransitionRefused([_("Say how the alert was resolved: a note is required.")])
    return _transition(
        alert=alert,
        by=by,
        frm=UNRESOLVED,
        to=AlertStatus.RESOLVED,
        event=AlertEventKind.RESOLVED,
        note=note,
        stamp="resolved_at",
        extra={"resolved_note": note},
    )


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
