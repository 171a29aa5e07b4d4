"""Who may see and work alerts, facilities and repayments. Alerts and facilities follow their
customer: a copy of its owner and team is kept on each row by database triggers (migrations
risk/0006 and risk/0017)."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from crm.models import User
from crm.roles import Role, role_of
from crm.scope import Scope
from risk.models import Alert, Facility

# Acknowledge, resolve and assign: RMs answer alerts on their own customers, managers on their
# team's, risk officers and admins on any.
ALERT_WORKERS = (Role.ADMIN, Role.RISK_OFFICER, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER)


def alerts_for(user) -> QuerySet[Alert]:
    return Scope.of(user).rows(Alert.objects.all())


def access_alert(user, code, *, for_update: bool = False) -> Alert:
    alert = get_object_or_404(
        alerts_for(user).select_related("customer", "customer__owner", "customer__team", "rule", "assignee"),
        code=code,
    )
    if for_update and not can_work_alert(user, alert):
        raise PermissionDenied
    return alert


def can_work_alerts(user) -> bool:
    return role_of(user) in ALERT_WORKERS


def can_work_alert(user, alert: Alert) -> bool:
    """``can_work_alerts``, for an alert in the user's scope."""
    return can_work_alerts(user) and Scope.of(user).covers(alert)


def alert_assignees(alert: Alert) -> QuerySet[User]:
    """Whom an alert may be assigned to: the active users who may see its customer."""
    customer = alert.customer
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__name__in=[Role.ADMIN.value, Role.RISK_OFFICER.value])
            | Q(groups__name=Role.TEAM_MANAGER.value, team_id=customer.team_id)
            | Q(groups__name=Role.RELATIONSHIP_MANAGER.value, pk=customer.owner_id)
        )
        .distinct()
        .order_by("username")
    )


def facilities_for(user) -> QuerySet[Facility]:
    return Scope.of(user).rows(Facility.objects.all())


def access_facility(user, code) -> Facility:
    """The facility with this code if the user may see its customer; 404 for a code that does
    not exist and for one that is not theirs alike."""
    return get_object_or_404(
        facilities_for(user).select_related("customer", "customer__owner", "customer__team", "deal"), code=code
    )


def can_import_repayments(user) -> bool:
    """Repayments are booked by risk officers (and admins) from the bank's statements."""
    return role_of(user) in (Role.ADMIN, Role.RISK_OFFICER)


def sees_risk_dashboard(user) -> bool:
    """The dashboard is the managers' page; an RM sees their own customers' figures on it too."""
    return role_of(user) is not None
