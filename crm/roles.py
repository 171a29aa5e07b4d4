"""Roles are Django groups (created by migration crm.0002). What a user may *do* starts from
their role; which rows they *see* is ``crm.scope.Scope``, built from the role."""

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
