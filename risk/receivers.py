"""Reactions to events of other apps: each receiver hands the event to a service."""

from django.dispatch import receiver

from funnel.models import Deal
from funnel.signals import deal_funded
from risk.services import facility_open


@receiver(deal_funded, sender=Deal, dispatch_uid="risk.facility_from_funded_deal")
def deal_funded_open_facility(sender, *, deal, by, amount, start_date, maturity_date, **kwargs) -> None:
    """A funded deal becomes a facility for monitoring (risk.services.facility_open)."""
    facility_open(deal=deal, by=by, amount=amount, start_date=start_date, maturity_date=maturity_date)
