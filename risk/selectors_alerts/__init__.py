"""Reads behind the alert pages: the list's keyset pages, one alert's page, the home page's
"my alerts". What an alert observed is made readable in ``observations``.

Like the deal list (funnel.list_views), the alert list is cut by keyset on (opened_at, id),
newest first, with a capped count: the table holds hundreds of thousands of rows, and neither
a deep OFFSET nor a full COUNT belongs on every page view. Cursors are alert codes looked up
among the user's visible, filtered alerts, so a cursor reveals nothing about other alerts."""

import datetime
import uuid
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from crm.access import alert_assignees, alerts_for, can_work_alert
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
COUNT_CAP = 1000
ORDER = ("-opened_at", "-id")
HOME_LIMIT = 10
GRADE_HISTORY = 10


# --- The list --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeysetPage:
    rows: list[Alert]
    has_newer: bool
    has_older: bool

    @property
    def is_first(self) -> bool:
        return not self.has_newer

    @property
    def newest(self) -> Alert | None:
        return self.rows[0] if self.rows else None

    @property
    def oldest(self) -> Alert | None:
        return self.rows[-1] if self.rows else None


def _cursor(alerts: QuerySet, code: str | None) -> tuple[datetime.datetime, int] | None:
    """(opened_at, id) of the alert with this code among ``alerts``; None for anything else
    (absent, malformed, not visible, filtered out), which the caller treats as page one."""
    if not code:
        return None
    try:
        value = uuid.UUID(code)
    except ValueError:
        return None
    found = list(alerts.filter(code=value).order_by().values_list("opened_at", "id")[:1])
    return found[0] if found else None


def _older_than(opened_at: datetime.datetime, pk: int) -> Q:
    # The redundant "opened_at <= …" lets PostgreSQL start the index range at the cursor (see
    # funnel.list_views._older_than).
    return Q(opened_at__lte=opened_at) & (Q(opened_at__lt=opened_at) | Q(opened_at=opened_at, id__lt=pk))


def _newer_than(opened_at: datetime.datetime, pk: int) -> Q:
    return Q(opened_at__gte=opened_at) & (Q(opened_at__gt=opened_at) | Q(opened_at=opened_at, id__gt=pk))


def keyset_page(alerts: QuerySet, *, after: str | None = None, before: str | None = None) -> KeysetPage:
    """One page of ``alerts``, newest first: the page older than the alert ``after``, or the
    page newer than the alert ``before``; ties in opened_at are broken by id."""
    if key := _cursor(alerts, after):
        rows = list(alerts.filter(_older_than(*key)).order_by(*ORDER)[: PAGE_SIZE + 1])
        return KeysetPage(rows=rows[:PAGE_SIZE], has_newer=True, has_older=len(rows) > PAGE_SIZE)
    if key := _cursor(alerts, before):
        rows = list(alerts.filter(_newer_than(*key)).order_by("opened_at", "id")[: PAGE_SIZE + 1])
        if len(rows) >= PAGE_SIZE:
            page = rows[:PAGE_SIZE]
            page.reverse()
            return KeysetPage(rows=page, has_newer=len(rows) > PAGE_SIZE, has_older=True)
        # Fewer than a page is newer: that is the first page, shown full rather than short.
    rows = list(alerts.order_by(*ORDER)[: PAGE_SIZE + 1])
    return KeysetPage(rows=rows[:PAGE_SIZE], has_newer=False, has_older=len(rows) > PAGE_SIZE)


def for_list(alerts: QuerySet) -> QuerySet:
    return alerts.select_related("customer", "rule", "assignee", "escalated_to")


def capped_count(alerts: QuerySet) -> tuple[int, bool]:
    """(count, capped): "more than 1,000" costs at most 1,001 index entries; a full COUNT
    over hundreds of thousands of alerts would run on every page view."""
    count = alerts.order_by()[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


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
