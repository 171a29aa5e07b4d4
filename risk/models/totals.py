"""How many alerts there are per RM, team, severity and status, kept by the database."""

from django.db import models

from crm.scope import Scope


class AlertTotalQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AlertTotalQuerySet":
        """The counts of exactly the alerts ``user`` may see: the rows carry the alerts' owner
        and team, so the alerts' scope (``risk.access.alerts_for``) cuts them the same way."""
        return Scope.of(user).rows(self)


class AlertTotal(models.Model):
    """How many alerts are in a status, per (RM, team, severity, status).

    Kept equal to the alerts by database triggers (migration 0014), whatever writes them: the
    evaluation's bulk insert, the services that acknowledge, resolve and reopen, Django admin,
    the trigger that moves alerts with their customer, deletes. The dashboard's counts of
    unresolved alerts sum a user's few rows here instead of grouping every alert it may see
    (363,000 after a first evaluation at 1M customers).

    A row whose alerts all moved on keeps count 0; readers add zeros. ``owner_id`` and
    ``team_id`` are plain numbers, as on StageTotal, so that a row does not keep a user or a
    team from being deleted; 0 stands for an alert not (yet) given its customer's."""

    owner_id = models.BigIntegerField()
    team_id = models.BigIntegerField()
    severity = models.CharField(max_length=10)
    status = models.CharField(max_length=20)
    count = models.IntegerField(default=0)

    objects = AlertTotalQuerySet.as_manager()

    class Meta:
        constraints = [
            # The triggers' upsert target, and the order they lock rows in.
            models.UniqueConstraint(fields=["owner_id", "team_id", "severity", "status"], name="alert_total_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.team_id} {self.severity} {self.status}: {self.count}"


class AlertDayTotal(models.Model):
    """How many alerts were opened on a local day, per (RM, team, severity, day), whatever
    their status since: the dashboard's "new alerts per week" chart sums a user's rows of its
    twelve weeks instead of bucketing every alert opened in them (362,881 after a first
    evaluation at 1M customers: 80 ms of SQL on two parallel workers per load).

    ``day`` is the date of ``opened_at`` in the zone recorded in ``AlertDayZone``, the zone
    the triggers of migration 0015 were created with (settings.TIME_ZONE at that time). Kept by
    those triggers like AlertTotal."""

    owner_id = models.BigIntegerField()
    team_id = models.BigIntegerField()
    severity = models.CharField(max_length=10)
    day = models.DateField()
    count = models.IntegerField(default=0)

    objects = AlertTotalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner_id", "team_id", "severity", "day"], name="alert_day_total_key"),
        ]
        indexes = [
            # The weeks of the firm (risk officers, admins) and of a team; an RM's rows are a
            # range of the key.
            models.Index(fields=["day"], include=["severity", "count"], name="alert_day_total_day"),
            models.Index(fields=["team_id", "day"], include=["severity", "count"], name="alert_day_total_team"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.team_id} {self.severity} {self.day}: {self.count}"


class AlertDayZone(models.Model):
    """The one row naming the time zone whose dates ``AlertDayTotal.day`` holds. Readers use the
    kept days only while it is settings.TIME_ZONE; after a change of TIME_ZONE they count from
    the alerts until the triggers are made again in the new zone (``manage.py migrate risk
    0014`` then ``manage.py migrate risk``)."""

    zone = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.zone
