"""Alert rules, the alerts they raise, and each alert's append-only history."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import LocalizedName
from risk.models.scope_copy import customer_owner_and_team


class AlertKind(models.TextChoices):
    """Every kind of condition an alert rule can watch; ``risk.alerts.KINDS`` holds how each is
    evaluated and which parameters it takes."""

    TIER_DOWNGRADE = "tier_downgrade", _("Tier downgrade")
    SCORE_DROP = "score_drop", _("Score drop")
    BUREAU_DOWNGRADE = "bureau_downgrade", _("Credit bureau rating downgrade")
    PAYMENT_OVERDUE = "payment_overdue", _("Payment overdue")
    DEBT_RATIO_HIGH = "debt_ratio_high", _("Debt ratio too high")
    LIMIT_BREACH = "limit_breach", _("Credit limit breached")
    REVIEW_OVERDUE = "review_overdue", _("Review overdue")
    DEAL_STALE = "deal_stale", _("Deal stale in its stage")
    INPUTS_STALE = "inputs_stale", _("Scorecard inputs stale")


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


# Worst first, for ordering querysets of alerts: .order_by(SEVERITY_RANK, …).
SEVERITY_RANK = models.Case(
    models.When(severity=AlertSeverity.CRITICAL, then=models.Value(0)),
    models.When(severity=AlertSeverity.WARNING, then=models.Value(1)),
    default=models.Value(2),
    output_field=models.IntegerField(),
)

# An acknowledged alert is still unresolved: it blocks a second alert for the same customer and rule.
UNRESOLVED = [AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED]
# The alerts someone must act on (the dashboard's list), most pressing first: escalated ones,
# then critical before warning, newest first. One definition for the query and its indexes:
# PostgreSQL uses an expression index only for the very same expressions and a partial one
# only where the query's condition implies the index's.
ACT_ON = [AlertSeverity.CRITICAL, AlertSeverity.WARNING]
ACT_ON_CONDITION = Q(status__in=UNRESOLVED, severity__in=ACT_ON)
ACT_ON_ORDER = (
    # Escalated first, latest escalation first: "escalated_at DESC NULLS LAST" spelled so that
    # SQLite accepts it in an index too.
    models.ExpressionWrapper(Q(escalated_at__isnull=True), output_field=models.BooleanField()).asc(),
    models.F("escalated_at").desc(),
    SEVERITY_RANK,
    models.F("opened_at").desc(),
    models.F("id").desc(),
)


class AlertEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    SEEN_AGAIN = "seen_again", _("Condition returned while still open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")
    ASSIGNED = "assigned", _("Assigned")
    ESCALATED = "escalated", _("Escalated")


class AlertRule(LocalizedName):
    """A condition watched over the portfolio (edited in Django admin). Its name reaches users
    (alert pages, dashboard, digest mails) as ``localized_name``."""

    kind = models.CharField(_("kind"), max_length=30, choices=AlertKind.choices)
    params = models.JSONField(
        _("parameters"),
        default=dict,
        blank=True,
        help_text=_("Depends on the kind; leave empty for the defaults."),
    )
    severity = models.CharField(
        _("severity"), max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    tiers = models.JSONField(
        _("tiers"),
        default=list,
        blank=True,
        help_text=_('The customer tiers the rule applies to, e.g. ["AA", "A"]; empty for all tiers.'),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    escalate_after_hours = models.PositiveIntegerField(
        _("escalate after (hours)"),
        null=True,
        blank=True,
        help_text=_("Escalate an alert still open after this many hours; empty for never."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def clean(self) -> None:
        # risk.alerts knows the kinds and imports this module, hence the late import.
        from risk.alerts import rule_problems

        errors = rule_problems(kind=self.kind, params=self.params, tiers=self.tiers)
        if errors:
            raise ValidationError(errors)


class AlertCondition(models.Model):
    """Whether a customer was in a rule's bad state at the last evaluation, and since when.
    This is what lets an alert be raised on the change into the bad state and not on every
    run; rows exist only for customers that were bad at least once."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    rule = models.ForeignKey(AlertRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="conditions")
    is_bad = models.BooleanField(_("in the bad state"), default=False)
    since = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("alert condition")
        verbose_name_plural = _("alert conditions")
        constraints = [
            models.UniqueConstraint(fields=["rule", "customer"], name="one_condition_per_customer_and_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.customer_id} {self.is_bad}"


class Alert(models.Model):
    """A customer entering a rule's bad state. Moves open → acknowledged → resolved; every
    transition is an ``AlertEvent``."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="alerts"
    )
    rule = models.ForeignKey(AlertRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="alerts")
    # The customer's RM and team, copied by database triggers (migration risk/0006) when the
    # alert is inserted and whenever the customer's owner or team change, so that "whose alerts
    # may I see" is an index range (crm.scope.Scope), as for deals.
    owner, team = customer_owner_and_team()
    # Copied from the rule when raised: editing the rule later does not rewrite history.
    severity = models.CharField(_("severity"), max_length=10, choices=AlertSeverity.choices)
    status = models.CharField(_("status"), max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    observed = models.JSONField(_("observed"), default=dict, blank=True)
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_note = models.TextField(_("resolution note"), max_length=5000, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    # Set once, by the escalation job (compare-and-set on escalated_at IS NULL).
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("escalated to"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # Concurrent evaluations may both try to raise; the database lets one through.
            models.UniqueConstraint(
                fields=["customer", "rule"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="one_open_alert_per_customer_and_rule",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-opened_at"], name="alert_status_opened"),
            models.Index(fields=["customer", "status"], name="alert_customer_status"),
            models.Index(fields=["team", "status", "-opened_at"], include=["severity"], name="alert_team_status"),
            models.Index(fields=["owner", "status", "-opened_at"], include=["severity"], name="alert_owner_status"),
            # The dashboard's "to act on" list for the firm, a team and an RM: the first rows of
            # the index, where sorting every unresolved alert took 122 ms for a team of 56k
            # customers and 450 ms firm-wide (363k alerts).
            models.Index(*ACT_ON_ORDER, condition=ACT_ON_CONDITION, name="alert_act_on"),
            # The alert list's default view, the unresolved ones newest first, for the firm, a
            # team and an RM: a keyset page is a range of these; with status IN (two values)
            # the status-led indexes made PostgreSQL sort all 363k unresolved alerts (312 ms).
            # They carry severity and status, so the dashboard's counts of unresolved alerts
            # (per severity, status, team and week) read them alone, not the alert rows.
            models.Index(
                F("opened_at").desc(),
                F("id").desc(),
                condition=Q(status__in=UNRESOLVED),
                include=["severity", "status", "team"],
                name="alert_unresolved",
            ),
            models.Index(
                "team",
                F("opened_at").desc(),
                F("id").desc(),
                condition=Q(status__in=UNRESOLVED),
                include=["severity", "status"],
                name="alert_team_unresolved",
            ),
            models.Index(
                "owner",
                F("opened_at").desc(),
                F("id").desc(),
                condition=Q(status__in=UNRESOLVED),
                include=["severity", "status", "team"],
                name="alert_owner_unresolved",
            ),
            models.Index(models.F("team"), *ACT_ON_ORDER, condition=ACT_ON_CONDITION, name="alert_team_act_on"),
            models.Index(models.F("owner"), *ACT_ON_ORDER, condition=ACT_ON_CONDITION, name="alert_owner_act_on"),
            # The escalation job's candidates: open critical alerts not yet escalated.
            models.Index(
                fields=["opened_at"],
                condition=Q(status="open", severity="critical", escalated_at__isnull=True),
                name="alert_to_escalate",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.customer} ({self.get_status_display()})"


class AlertEvent(models.Model):
    """Append-only: one row per transition of an alert, with who (empty: the system) and when."""

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=AlertEventKind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(_("note"), max_length=5000, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind}"


class AlertDigest(models.Model):
    """One row per manager and day a digest was sent: what makes the daily digest idempotent
    (the row is claimed before the mail goes out; a second run finds it and sends nothing)."""

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("manager"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    alerts = models.PositiveIntegerField(_("alerts"), default=0)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-day", "manager_id"]
        verbose_name = _("alert digest")
        verbose_name_plural = _("alert digests")
        constraints = [models.UniqueConstraint(fields=["manager", "day"], name="one_digest_per_manager_and_day")]

    def __str__(self) -> str:
        return f"{self.manager_id} {self.day}"
