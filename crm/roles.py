"""Roles are Django groups (created by migration crm.0002). Everything that asks "what may
this user see?" starts here, so the answer is the same for every page, export and task."""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    RELATIONSHIP_MANAGER = "Relationship manager"
    TEAM_MANAGER = "Team manager"
    RISK_OFFICER = "Risk officer"
    ADMIN = "Admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.RELATIONSHIP_MANAGER: _("Relationship manager"),
    Role.TEAM_MANAGER: _("Team manager"),
    Role.RISK_OFFICER: _("Risk officer"),
    Role.ADMIN: _("Admin"),
}

# Strongest first: a user in several groups gets the widest of them.
_PRECEDENCE = [Role.ADMIN, Role.RISK_OFFICER, Role.TEAM_MANAGER, Role.RELATIONSHIP_MANAGER]


def role_of(user) -> Role | None:
    """The user's role, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if not hasattr(user, "_crm_role"):
        if user.is_superuser:
            user._crm_role = Role.ADMIN
        else:
            names = set(user.groups.values_list("name", flat=True))
            user._crm_role = next((r for r in _PRECEDENCE if r.value in names), None)
    return user._crm_role


def users_with_role(role: Role):
    """The active users who hold ``role`` (e.g. a team's managers: ``.filter(team_id=…)``)."""
    from django.contrib.auth import get_user_model  # roles.py is imported before the apps load

    return get_user_model().objects.filter(is_active=True, groups__name=role.value)


def sees_all_customers(user) -> bool:
    return role_of(user) in (Role.ADMIN, Role.RISK_OFFICER)


def is_team_manager(user) -> bool:
    return role_of(user) == Role.TEAM_MANAGER


def is_relationship_manager(user) -> bool:
    return role_of(user) == Role.RELATIONSHIP_MANAGER


def visible_rows(queryset, user):
    """The one rule for who sees which customer: everything for admins and risk officers, the
    team's rows for a team manager, their own for an RM, nothing for anyone else. Applied to
    customers and, through the copy of their customer's owner and team, to deals."""
    if sees_all_customers(user):
        return queryset
    if is_team_manager(user):
        return queryset.filter(team_id=user.team_id) if user.team_id else queryset.none()
    if is_relationship_manager(user):
        return queryset.filter(owner_id=user.pk)
    return queryset.none()
