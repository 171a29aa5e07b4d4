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
