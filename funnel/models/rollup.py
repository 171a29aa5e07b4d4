"""The precomputed funnel figures the analytics page reads."""

from decimal import Decimal

from django.db import models
from django.db.models import Q


class FunnelRollup(models.Model):
    """Precomputed analytics, rebuilt by a beat job (funnel.analytics.rollup_rebuild).

    Three levels of rows, so that every page read sums a few thousand rows at most:

    - per (customer owner, customer team): ``owner_id`` and ``team_id`` set. An RM's page sums
      the rows with ``owner_id`` = the RM, which are exactly the customers they may see;
    - per team: ``owner_id`` NULL, ``team_id`` set (a team manager's page);
    - firm-wide: both NULL (admin and risk officer).

    Each level holds the same figures again, so never sum across levels: pick one (see
    ``funnel.analytics.rollup_rows``). Medians come from per-day histograms (``bucket`` = whole
    days, capped), which add up across owners where medians would not; ``days`` keeps the sum of
    the uncapped days so that means stay exact."""

    class Metric(models.TextChoices):
        STAGE = "stage"  # key: stage; deals now in it
        REACHED = "reached"  # key: furthest rank reached
        DAYS = "days"  # key: stage left; bucket: days spent in it
        OUTCOME = "outcome"  # key: "<tier>:<funded|lost>"
        CYCLE = "cycle"  # key: month screened (YYYY-MM); bucket: days from prospect to decision

    owner_id = models.IntegerField(null=True)  # NULL on the team and firm-wide rows
    team_id = models.IntegerField(null=True)  # NULL on the firm-wide rows
    metric = models.CharField(max_length=10, choices=Metric.choices)
    key = models.CharField(max_length=40)
    bucket = models.IntegerField(default=0)
    count = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=22, decimal_places=2)
    weighted = models.DecimalField(max_digits=22, decimal_places=2, default=Decimal("0"))
    days = models.BigIntegerField(default=0)  # DAYS and CYCLE: sum of the uncapped days

    class Meta:
        indexes = [
            models.Index(fields=["owner_id", "metric"], name="rollup_owner"),
            # Only the team and firm-wide totals are read by team: owner rows need no entry.
            models.Index(fields=["team_id", "metric"], condition=Q(owner_id__isnull=True), name="rollup_total"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.key} {self.bucket}"


class RollupRun(models.Model):
    """When the rollup was last rebuilt (one row), shown as "figures as of" on the page."""

    finished_at = models.DateTimeField()
    deals = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M}"
