"""Who may see and change customers. One ``access_*`` per object type: a missing object and one
the user may not see get the same answer (404), so nobody can probe for customers that are not
theirs. Whose rows a user sees is ``crm.scope.Scope``; this module adds what they may do."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from crm.models import User
from crm.roles import Role, role_of, users_with_role
from crm.scope import Scope
from customers.models import Contact, Customer, CustomerQuerySet

# Who keeps customers: create, edit and assign them, and work their deals.
KEEPERS = (Role.ADMIN, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER)


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
    """Whoever keeps the customer (it lies in their scope); risk officers read customer master
    data but change only risk objects."""
    return role_of(user) in KEEPERS and Scope.of(user).covers(customer)


def can_create_customer(user) -> bool:
    role = role_of(user)
    if role == Role.ADMIN:
        return True
    return role in (Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER) and user.team_id is not None


def assignable_owners(user) -> QuerySet[User]:
    """Whom this user may make the owner of a customer."""
    role = role_of(user)
    if role == Role.ADMIN:
        return users_with_role(Role.RELATIONSHIP_MANAGER).select_related("team").order_by("username")
    if role == Role.TEAM_MANAGER and user.team_id:
        return Scope.of(user).owners()
    return User.objects.filter(pk=user.pk)


def can_add_sources(user) -> bool:
    """Credit reports, statements and the like: whoever keeps the customer, and risk officers."""
    return role_of(user) in (*KEEPERS, Role.RISK_OFFICER)


def can_override_tier(user) -> bool:
    return role_of(user) in (Role.ADMIN, Role.RISK_OFFICER)
