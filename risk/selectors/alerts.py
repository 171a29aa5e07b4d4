"""Reads behind the alert pages: the list's rows, one alert's page, the home page's "my
alerts". What an alert observed is made readable in ``observations``. The list is cut into
keyset pages by crm.keyset, like the deal list."""

from django.db.models import QuerySet

from crm.keyset import capped_count
from customers.models import Grade
from risk.access import alert_assignees, alerts_for, can_work_alert
from risk.forms import ResolveForm
from risk.models import SEVERITY_RANK, UNRESOLVED, Alert
from risk.selectors.observations import Observation, observation_of

__all__ = ["Observation", "alert_actions", "alert_page", "for_list", "home_alerts", "observation_of"]

ORDER = ("-opened_at", "-id")
HOME_LIMIT = 10
GRADE_HISTORY = 10


# --- The list --------------------------------------------------------------------------------------
def for_list(alerts: QuerySet) -> QuerySet:
    return alerts.select_related("customer", "rule", "assignee", "escalated_to")


# --- Home ------------------------------------------------------------------------------------------


def home_alerts(user) -> dict:
    """The unresolved alerts of the customers this user sees (an RM: their own), critical
    first and newest first within a severity; two queries whatever the portfolio size."""
    unresolved = alerts_for(user).filter(status__in=UNRESOLVED)
    top = list(
        unresolved.select_related("customer", "rule", "assignee", "escalated_to").order_by(SEVERITY_RANK, *ORDER)[
            :HOME_LIMIT
        ]
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
