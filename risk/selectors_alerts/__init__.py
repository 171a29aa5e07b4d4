"""Reads behind the alert pages: the list's keyset pages, one alert's page, the home page's
"my alerts". What an alert observed is made readable in ``observations``.

Like the deal list (funnel.list_views), the alert list is cut by keyset on (opened_at, id),
newest first, with a capped count: the table holds hundreds of thousands of rows, and neither
a deep OFFSET nor a full COUNT belongs on every page view. Cursors are alert codes looked up
among the user's visible, filtered alerts, so a cursor reveals nothing about other alerts."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from crm import keyset
from crm.access import alert_assignees, alerts_for, can_work_alert
from crm.keyset import KeysetPage, capped_count
from customers.models import Grade
from risk.forms import ResolveForm
from risk.models import UNRESOLVED, Alert, AlertSeverity
from risk.selectors_alerts.observations import Observation, observation_of

__all__ = [
    "KeysetPage",
    "Observation",
    "alert_actions",
    "alert_page",
    "capped_count",
    "for_list",
    "home_alerts",
    "keyset_page",
    "observation_of",
]

PAGE_SIZE = 50
ORDER = ("-opened_at", "-id")
HOME_LIMIT = 10
GRADE_HISTORY = 10


# --- The list --------------------------------------------------------------------------------------
def keyset_page(alerts: QuerySet, *, after: str | None = None, before: str | None = None) -> KeysetPage:
    """One page of ``alerts``, newest opened first (crm.keyset; the alert status/opened indexes)."""
    return keyset.keyset_page(alerts, field="opened_at", after=after, before=before, size=PAGE_SIZE)


def for_list(alerts: QuerySet) -> QuerySet:
    return alerts.select_related("customer", "rule", "assignee", "escalated_to")


# --- Home ------------------------------------------------------------------------------------------
_SEVERITY_RANK = Case(
    When(severity=AlertSeverity.CRITICAL, then=Value(0)),
    When(severity=AlertSeverity.WARNING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def home_alerts(user) -> dict:
    """The unresolved alerts of the customers this user sees (an RM: their own), critical
    first and newest first within a severity; two queries whatever the portfolio size."""
    unresolved = alerts_for(user).filter(status__in=UNRESOLVED)
    top = list(
        unresolved.select_related("customer", "rule", "assignee")
        .annotate(severity_rank=_SEVERITY_RANK)
        .order_by("severity_rank", *ORDER)[:HOME_LIMIT]
    )
    count, capped = capped_count(unresolved)
    return {"alerts": top, "count": count, "count_capped": capped}


# --- One alert -------------------------------------------------------------------------------------
def alert_page(alert: Alert) -> dict:
    """What the alert page shows beside the alert itself: the observation made readable, the
    customer's recent grades and the alert's events."""
    return {
        "observation": observation_of(alert),
        # As customers/_grade_history.html expects it (the customer page passes its grading).
        "grade_history": {
            "grades": list(Grade.objects.filter(customer=alert.customer).select_related("scorecard")[:GRADE_HISTORY])
        },
        "events": list(alert.events.select_related("by")),
    }


def alert_actions(user, alert: Alert, *, next_url: str = "", resolve_form: ResolveForm | None = None) -> dict:
    """The context ``templates/risk/_alert_actions.html`` needs (acknowledge, resolve with a
    note, assign). Pages that show the actions for an alert include the partial with this."""
    can_work = can_work_alert(user, alert)
    unresolved = alert.status in UNRESOLVED
    return {
        "alert": alert,
        "can_work": can_work,
        "assignees": list(alert_assignees(alert)) if can_work and unresolved else [],
        "resolve_form": resolve_form or ResolveForm(),
        "next": next_url,
    }
