"""Who may see and work deals. Deals follow their customer: whoever sees the customer sees its
deals (through the copy of the customer's owner and team that database triggers keep on each
deal, so the scope is an index range, not a join)."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from crm.roles import role_of
from crm.scope import Scope
from customers.access import KEEPERS
from funnel.models import Deal, DealQuerySet


def deals_for(user) -> DealQuerySet:
    return Deal.objects.visible_to(user)


def access_deal(user, code, *, for_update: bool = False) -> Deal:
    deal = get_object_or_404(deals_for(user).select_related("customer", "owner"), code=code)
    if for_update and not can_work_deal(user, deal):
        raise PermissionDenied
    return deal


def can_work_deals(user) -> bool:
    """Create, edit and move deals: the people who keep customers. Risk officers read them."""
    return role_of(user) in KEEPERS


def can_work_deal(user, deal: Deal) -> bool:
    """``can_work_deals``, for a deal in the user's scope."""
    return can_work_deals(user) and Scope.of(user).covers(deal)
