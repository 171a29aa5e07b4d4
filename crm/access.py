"""Access helpers: one per object type. A missing object and one the user may not see get the
same answer (404), so nobody can probe for customers that are not theirs."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404

from crm.models import User
from crm.roles import Role, role_of, users_with_role, visible_rows
from customers.models import Contact, Customer, CustomerQuerySet
from funnel.models import Deal, DealQuerySet
from risk.models import Alert, Facility


def customers_for(user) -> CustomerQuerySet:
    return Customer.objects.visible_to(user)


def access_customer(user, code, *, for_update: bool = False) -> Customer:
    """The customer with this code if the user may see it, else 404. With ``for_update`` the
    user must also be allowed to change it (403: they can see it, so hiding it is pointless)."""
    customer = get_object_or_404(customers_for(user).select_related("owner", "team"), code=code)
    if for_update and not can_edit_customer(user, customer):
        raise PermissionDenied
    return customer


def access_contact(user, customer_code, contact_code, *, for_update: bool = False) -> Contact:
    customer = access_customer(user, customer_code, for_update=for_update)
    return get_object_or_404(customer.contacts.all(), code=contact_code)


def can_edit_customer(user, customer: Customer) -> bool:
    """Risk officers read customer master data but change only risk objects."""
    return role_of(user) in (Role.ADMIN, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER)


def can_create_customer(user) -> bool:
    role = role_of(user)
    if role == Role.ADMIN:
        return True
    return role in (Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER) and user.team_id is not None


def assignable_owners(user):
    """Whom this user may make the owner of a customer."""
    rms = users_with_role(Role.RELATIONSHIP_MANAGER)
    role = role_of(user)
    if role == Role.ADMIN:
        return rms.select_related("team").order_by("username")
    if role == Role.TEAM_MANAGER and user.team_id:
        return rms.filter(team_id=user.team_id).order_by("username")
    return User.objects.filter(pk=user.pk)


def can_add_sources(user) -> bool:
    """Credit reports, statements and the like: whoever keeps the customer, and risk officers."""
    return role_of(user) in (Role.ADMIN, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER, Role.RISK_OFFICER)


def can_override_tier(user) -> bool:
    return role_of(user) in (Role.ADMIN, Role.RISK_OFFICER)


def deals_for(user) -> DealQuerySet:
    """Deals follow their customer: whoever sees the customer sees its deals."""
    return Deal.objects.visible_to(user)


def access_deal(user, code, *, for_update: bool = False) -> Deal:
    deal = get_object_or_404(deals_for(user).select_related("customer", "owner"), code=code)
    if for_update and not can_work_deal(user, deal):
        raise PermissionDenied
    return deal


def can_work_deal(user, deal: Deal | None = None) -> bool:
    """Create, edit and move deals: the people who keep customers. Risk officers read them."""
    return role_of(user) in (Role.ADMIN, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER)


def alerts_for(user):
    """Alerts follow their customer: whoever sees the customer sees its alerts (through the
    copy of the customer's owner and team that database triggers keep on each alert)."""
    return visible_rows(Alert.objects.all(), user)


def access_alert(user, code, *, for_update: bool = False) -> Alert:
    alert = get_object_or_404(
        alerts_for(user).select_related("customer", "customer__owner", "customer__team", "rule", "assignee"),
        code=code,
    )
    if for_update and not can_work_alert(user, alert):
        raise PermissionDenied
    return alert


def can_work_alert(user, alert: Alert | None = None) -> bool:
    """Acknowledge, resolve and assign: RMs answer alerts on their own customers, managers on
    their team's, risk officers and admins on any (``alerts_for`` already limits which)."""
    return role_of(user) in (Role.ADMIN, Role.RISK_OFFICER, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER)


def alert_assignees(alert: Alert):
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


def facilities_for(user):
    return Facility.objects.filter(customer__in=customers_for(user))


def can_import_repayments(user) -> bool:
    """Repayments are booked by risk officers (and admins) from the bank's statements."""
    return role_of(user) in (Role.ADMIN, Role.RISK_OFFICER)


def sees_risk_dashboard(user) -> bool:
    """The dashboard is the managers' page; an RM sees their own customers' figures on it too."""
    return role_of(user) is not None
