"""What people do with an alert: acknowledge it, resolve it with a note. Each transition is a
compare-and-set on the status plus an append-only AlertEvent, in one transaction."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk.exceptions import InputRefused
from risk.models import UNRESOLVED, Alert, AlertEvent, AlertEventKind, AlertStatus


class AlertTransitionRefused(InputRefused):
    """An acknowledge or resolve that does not apply to the alert as it now stands."""


def _transition(
    *, alert: Alert, by, frm: list[str], to: str, event: str, note: str = "", stamp: str, extra: dict | None = None
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
