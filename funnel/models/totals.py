"""Per-stage totals of the deals, kept by the database."""

from django.db import models

from crm.scope import Scope


class StageTotalQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StageTotalQuerySet":
        """The totals of exactly the deals ``user`` may see: the rows carry the deals' owner and
        team, so the deals' scope (``DealQuerySet.visible_to``) cuts them the same way."""
        return Scope.of(user).rows(self)


class StageTotal(models.Model):
    """How many deals sit in a stage and what they add up to, per (RM, team, stage).

    Kept equal to the deals by database triggers (migration 0008), whatever writes them: the
    services, Django admin, imports, bulk UPDATEs, the trigger that moves deals with their
    customer, deletes, COPY. The unfiltered board sums a user's few rows here instead of
    aggregating every open deal it may see.

    ``weighted`` is Σ amount × probability, the raw product: dividing by 100 once per column at
    read keeps the sum exact. A row whose deals all left keeps count 0 (cheaper than deleting and
    re-inserting as deals come and go); readers add zeros. ``owner_id`` and ``team_id`` are plain
    numbers, as on the rollup: a row with count 0 must not keep a user or team from being
    deleted."""

    owner_id = models.BigIntegerField()
    team_id = models.BigIntegerField()
    stage = models.CharField(max_length=20)
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=22, decimal_places=2, default=0)
    weighted = models.DecimalField(max_digits=24, decimal_places=2, default=0)

    objects = StageTotalQuerySet.as_manager()

    class Meta:
        constraints = [
            # The triggers' upsert target, and the order they lock rows in.
            models.UniqueConstraint(fields=["owner_id", "team_id", "stage"], name="stage_total_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.team_id} {self.stage}: {self.count}"


class ClosedDayTotal(models.Model):
    """How many deals closed (Funded or Lost) on a day and what they add up to, per (RM, team,
    stage, day), the day being the UTC date the deal entered its closed stage.

    Kept by database triggers like StageTotal (migration 0010). The board shows what closed in
    its window (CLOSED_WINDOW_DAYS, whole UTC days): for someone who sees the whole firm that
    summed 137,000 deals per load at 2M deals; it sums at most a row per RM, stage and day here."""

    owner_id = models.BigIntegerField()
    team_id = models.BigIntegerField()
    stage = models.CharField(max_length=20)
    day = models.DateField()
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=22, decimal_places=2, default=0)
    weighted = models.DecimalField(max_digits=24, decimal_places=2, default=0)

    objects = StageTotalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner_id", "team_id", "stage", "day"], name="closed_day_total_key"),
        ]
        indexes = [
            # The window of the firm (risk officers, admins) and of a team; an RM's rows are a
            # range of the key.
            models.Index(fields=["day"], include=["stage", "count", "amount", "weighted"], name="closed_total_day"),
            models.Index(fields=["team_id", "day"], name="closed_total_team_day"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.team_id} {self.stage} {self.day}: {self.count}"
