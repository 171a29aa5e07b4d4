"""The month-by-month figures behind the risk dashboard's KPIs."""

from decimal import Decimal

from django.db import models
from django.db.models import Q


class RiskMonth(models.Model):
    """Precomputed monthly figures behind the risk dashboard's KPIs, rebuilt by a beat job
    (risk.dashboard.rollup_rebuild). Levels as in funnel.FunnelRollup: per (owner, team) with
    both set, per team (owner NULL), firm-wide (both NULL); never sum across levels.

    Flows (due, repaid, alerts, screening) are recomputed for every month kept; stocks
    (exposure, also by tier) can only be observed now, so the current month's snapshot is rewritten by each
    run and a past month keeps the last snapshot taken in it."""

    month = models.DateField()  # first day of the month, local time
    owner_id = models.IntegerField(null=True)
    team_id = models.IntegerField(null=True)
    due = models.DecimalField(max_digits=22, decimal_places=2, default=Decimal("0"))
    repaid = models.DecimalField(max_digits=22, decimal_places=2, default=Decimal("0"))
    exposure = models.DecimalField(max_digits=22, decimal_places=2, null=True)
    exposure_b = models.DecimalField(max_digits=22, decimal_places=2, null=True)
    exposure_overdue = models.DecimalField(max_digits=22, decimal_places=2, null=True)
    # The snapshot by the customer's tier at the time of the rebuild (the dashboard's "Exposure
    # by tier"): outstanding per tier (tier B's is exposure_b) and the facilities with anything
    # outstanding. NULL where no snapshot was taken, as the exposures above.
    exposure_aa = models.DecimalField(max_digits=22, decimal_places=2, null=True)
    exposure_a = models.DecimalField(max_digits=22, decimal_places=2, null=True)
    exposure_unrated = models.DecimalField(max_digits=22, decimal_places=2, null=True)
    facilities_aa = models.PositiveIntegerField(null=True)
    facilities_a = models.PositiveIntegerField(null=True)
    facilities_b = models.PositiveIntegerField(null=True)
    facilities_unrated = models.PositiveIntegerField(null=True)
    alerts_new = models.PositiveIntegerField(default=0)
    screened = models.PositiveIntegerField(default=0)  # deals reaching a decision in the month
    screened_funded = models.PositiveIntegerField(default=0)  # of those, approved or funded

    class Meta:
        indexes = [
            models.Index(fields=["owner_id", "month"], name="risk_month_owner"),
            models.Index(fields=["team_id", "month"], condition=Q(owner_id__isnull=True), name="risk_month_total"),
        ]

    def __str__(self) -> str:
        return f"{self.month} {self.owner_id} {self.team_id}"
