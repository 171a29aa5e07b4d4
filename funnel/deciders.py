"""Who may decide a terms exception: four eyes (审贷分离).

Two things must both hold. The admin-settable one: the user holds the ``funnel.decide_exception``
permission (migration 0006 grants it to the Team manager and Risk officer groups; admins change
that in Django admin, per group or per user). The fixed one: the decider is neither the person
who asked for the exception nor the deal's relationship manager, and may see the deal. So a
team manager's own request goes to another manager of the team or to a risk officer."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, Q, QuerySet
from django.utils.translation import gettext as _

from crm.roles import Role
from crm.scope import Scope
from funnel.models import Deal, ExceptionStatus, TermsException

DECIDE_PERMISSION = "funnel.decide_exception"


def decide_refusal(user, exception: TermsException, deal: Deal) -> str | None:
    """Why ``user`` may not decide ``exception`` on ``deal``; None when they may. The service
    asks with the rows it has locked, the page with the rows it shows."""
    if exception.requested_by_id == user.pk:
        return _("You asked for this exception, so someone else must decide it.")
    if deal.owner_id == user.pk:
        return _("You are the relationship manager of this deal, so someone else must decide its exceptions.")
    if not user.has_perm(DECIDE_PERMISSION) or not Deal.objects.visible_to(user).filter(pk=deal.pk).exists():
        return _("You may not decide exceptions on this deal.")
    return None


def deciders(exception: TermsException, deal: Deal) -> QuerySet:
    """The active users who may decide ``exception``, for the page to name them: the same rule
    as ``decide_refusal``, in one query (permission held through a group, directly or as a
    superuser; the deal seen as a risk officer, an admin or a manager of its team)."""
    has_permission = (
        Q(is_superuser=True)
        | Q(groups__permissions__codename="decide_exception", groups__permissions__content_type__app_label="funnel")
        | Q(user_permissions__codename="decide_exception", user_permissions__content_type__app_label="funnel")
    )
    sees_deal = (
        Q(is_superuser=True)
        | Q(groups__name__in=[Role.ADMIN.value, Role.RISK_OFFICER.value])
        | Q(groups__name=Role.TEAM_MANAGER.value, team_id=deal.team_id)
    )
    ids = get_user_model().objects.filter(has_permission).values("pk")
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=ids)
        .filter(sees_deal)
        .exclude(pk__in=[exception.requested_by_id, deal.owner_id])
        .distinct()
        .order_by("username")
    )


def decidable_by(user) -> QuerySet:
    """The pending exceptions ``user`` may decide: ``decide_refusal`` as a filter, for the queue,
    the home card and the top bar's badge. One query: the permission is read in SQL (as
    ModelBackend grants it: directly, through a group, or as a superuser) instead of
    ``has_perm``, which would cost two more on every page that shows the badge."""
    if not user.is_authenticated or not user.is_active:
        return TermsException.objects.none()
    scope = Scope.of(user)
    if scope.is_own or scope.is_empty:
        # An RM sees only the deals they own, and nobody decides on their own deal: no query on
        # the pages RMs open all day.
        return TermsException.objects.none()
    pending = (
        TermsException.objects.filter(status=ExceptionStatus.PENDING, deal__in=Deal.objects.visible_to(user))
        .exclude(requested_by=user)
        .exclude(deal__owner=user)
    )
    if user.is_superuser:
        return pending
    held = Permission.objects.filter(
        Q(group__user=user) | Q(user=user),
        codename="decide_exception",
        content_type__app_label="funnel",
    )
    return pending.filter(Exists(held))
