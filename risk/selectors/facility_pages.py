"""Reads behind the facility pages: the list, one facility's page, and the facilities panel the
customer and deal pages show. Every figure about what is due, repaid and overdue comes from
``risk.selectors.facilities`` (the waterfall for one facility, ``with_overdue`` for many), the
rule the alert evaluation uses — never a second one."""

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet

from risk.access import alerts_for
from risk.models import UNRESOLVED, Alert, AlertKind, Facility, Repayment
from risk.selectors.facilities import (
    InstallmentCover,
    InstallmentState,
    Position,
    facility_position,
    installment_state,
    with_overdue,
)

# Newest facility first, ties by id: the keyset of the list (crm.keyset) and the export's order.
KEYSET_FIELD = "start_date"
ORDER = ("-start_date", "-id")
# The alert kinds that are about facilities; the page shows the most recent of them.
FACILITY_ALERT_KINDS = (AlertKind.PAYMENT_OVERDUE, AlertKind.LIMIT_BREACH)
ALERT_LIMIT = 20


# --- Lists -----------------------------------------------------------------------------------------
def for_list(facilities: QuerySet[Facility], *, today: datetime.date) -> QuerySet[Facility]:
    """Facilities with today's overdue figures and what a row shows, in one query."""
    return with_overdue(facilities, today=today).select_related("customer", "customer__team", "customer__owner", "deal")


def facilities_of(facilities: QuerySet[Facility], *, today: datetime.date) -> list[Facility]:
    """The facilities panel of a customer's or a deal's page: ``facilities`` (already narrowed
    to the customer or the deal, and to the user's scope) with overdue figures, oldest first,
    in one query however many there are."""
    return list(with_overdue(facilities.select_related("deal"), today=today).order_by("start_date", "id"))


# --- One facility ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleLine:
    cover: InstallmentCover
    state: InstallmentState

    @property
    def installment(self):
        return self.cover.installment

    @property
    def paid(self):
        return self.cover.interest_paid + self.cover.principal_paid


def _named_codes(observed: dict) -> set[str]:
    """The facility codes an alert's observation names (payment overdue: ``facilities``; limit
    breach: ``facilities_over_limit``); empty when it names none."""
    codes: set[str] = set()
    for key in ("facilities", "facility"):
        value = observed.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                codes.add(item)
    for item in observed.get("facilities_over_limit") or []:
        if isinstance(item, dict) and item.get("facility"):
            codes.add(str(item["facility"]))
    return codes


def facility_alerts(facility: Facility, *, user) -> list[Alert]:
    """Alerts of the facility's customer about facilities, unresolved first, then newest: those
    whose observation names this facility, or names none (a limit breach on the customer's
    total concerns all of its facilities)."""
    alerts = (
        alerts_for(user)
        .filter(customer_id=facility.customer_id, rule__kind__in=FACILITY_ALERT_KINDS)
        .select_related("rule", "assignee", "escalated_to")
        .order_by("-opened_at", "-id")[:ALERT_LIMIT]
    )
    code = str(facility.code)
    mine = [a for a in alerts if not (named := _named_codes(a.observed or {})) or code in named]
    return sorted(mine, key=lambda a: a.status not in UNRESOLVED)  # stable: newest first within


def facility_page(facility: Facility, *, user, today: datetime.date) -> dict:
    """What the facility page shows: today's position with each installment's state, the
    repayments recorded (newest first) and the facility's alerts."""
    position: Position = facility_position(facility, today=today)
    return {
        "position": position,
        "schedule": [ScheduleLine(c, installment_state(c, today=today)) for c in position.installments],
        "repayments": list(
            Repayment.objects.filter(facility=facility).select_related("entered_by").order_by("-received_on", "-id")
        ),
        "alerts": facility_alerts(facility, user=user),
        "days_to_maturity": (facility.maturity_date - today).days if facility.maturity_date else None,
    }
