"""Reactions to events of other apps."""

from django.dispatch import receiver

from funnel.models import Deal
from funnel.signals import deal_funded
from risk.models import Facility


@receiver(deal_funded, sender=Deal, dispatch_uid="risk.facility_from_funded_deal")
def facility_open(sender, *, deal, by, amount, start_date, maturity_date, **kwargs) -> None:
    """A funded deal becomes a facility for monitoring: the approved limit, drawn in full at
    the start (drawdown schedules are kept on the facility afterwards)."""
    granted = deal.proposed_limit if deal.proposed_limit is not None else amount
    Facility.objects.create(
        customer_id=deal.customer_id,
        deal=deal,
        granted_limit=granted,
        limit=granted,
        drawn=amount,
        outstanding=amount,
        start_date=start_date,
        maturity_date=maturity_date,
        created_by=by,
    )
