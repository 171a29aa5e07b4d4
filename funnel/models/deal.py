"""A deal, its moves through the funnel, its checklist, documents and terms exceptions."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.scope import Scope
from customers.models import Customer
from funnel.models.stages import (
    OPEN_STAGES,
    RANK,
    ChecklistItem,
    LostReason,
    ProjectType,
    Stage,
)


class DealQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DealQuerySet":
        """A deal is visible exactly when its customer is. The rule is Customer's, read from the
        deal's own copy of the customer's owner and team (kept equal by a database trigger, see
        migration 0004) so that a page of an RM's deals is one index range, not a walk through
        two million deals checking each customer."""
        return Scope.of(user).rows(self)

    def open(self) -> "DealQuerySet":
        return self.filter(stage__in=OPEN_STAGES)


class Deal(models.Model):
    """A financing opportunity of one customer."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexed by deal_customer_stage below (customer first), so no separate FK index.
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="deals", db_index=False
    )
    title = models.CharField(_("title"), max_length=200)
    project_type = models.CharField(_("project type"), max_length=20, choices=ProjectType.choices)
    amount = models.DecimalField(
        _("amount requested (CNY)"),
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), message=_("The amount must be more than zero."))],
    )
    purpose = models.TextField(_("purpose"), max_length=2000, blank=True)
    # The customer's relationship manager and team, copied: who may see the deal. Set from the
    # customer when the deal is created; when the customer is reassigned, a trigger on the
    # customer table (migration 0004) moves its deals along, whatever made the change.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relationship manager"),
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,
        editable=False,
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,
        editable=False,
    )
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.PROSPECT)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=10, validators=[MaxValueValidator(100)]
    )
    # Proposed terms; prefilled from the customer's tier policy when the deal is created.
    spread_bps = models.IntegerField(
        _("rate spread (bp)"), null=True, blank=True, help_text=_("Basis points over the base rate.")
    )
    collateral_coverage = models.DecimalField(
        _("collateral coverage (%)"),
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    proposed_limit = models.DecimalField(
        _("proposed limit (CNY)"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    lost_reason = models.CharField(_("lost reason"), max_length=20, choices=LostReason.choices, blank=True)
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    # Furthest stage rank ever reached (backward moves do not lower it): layer conversion.
    max_rank = models.PositiveSmallIntegerField(default=1, editable=False)
    # First time the deal reached Approved or Lost: the end of screening (cycle time).
    screened_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    # Set by the daily funnel.tasks.deals_flag_stale job, cleared by every move.
    stale_since = models.DateTimeField(_("flagged overdue at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deal_amount_positive"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="deal_probability_percent"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="deal_stage_valid"),
            models.CheckConstraint(condition=~Q(stage=Stage.LOST) | ~Q(lost_reason=""), name="lost_deal_has_reason"),
        ]
        # The board reads the newest arrivals per column, the list keyset pages by creation;
        # each for everyone, one team or one RM. The board's indexes carry amount and
        # probability so its column totals are index-only scans on PostgreSQL.
        indexes = [
            models.Index(
                fields=["stage", "-stage_entered_at", "-id"], include=["amount", "probability"], name="deal_board"
            ),
            models.Index(
                fields=["team", "stage", "-stage_entered_at", "-id"],
                include=["amount", "probability"],
                name="deal_board_team",
            ),
            models.Index(
                fields=["owner", "stage", "-stage_entered_at", "-id"],
                include=["amount", "probability"],
                name="deal_board_owner",
            ),
            models.Index(fields=["-created_at", "-id"], name="deal_newest"),
            models.Index(fields=["team", "-created_at", "-id"], name="deal_newest_team"),
            models.Index(fields=["owner", "-created_at", "-id"], name="deal_newest_owner"),
            models.Index(fields=["customer", "stage"], name="deal_customer_stage"),
            # The stale-deal alert rule, per batch of customers: only flagged deals have an entry.
            models.Index(
                fields=["customer", "stale_since"], condition=Q(stale_since__isnull=False), name="deal_stale_customer"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / 100).quantize(Decimal("0.01"))

    def days_in_stage(self, now=None) -> int:
        return ((now or timezone.now()) - self.stage_entered_at).days


class StageMove(models.Model):
    """Append-only: every stage change of a deal, forward or back (the deal's timeline)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="moves")
    from_stage = models.CharField(_("from"), max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to"), max_length=20, choices=Stage.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(pgettext_lazy("remark on a deal", "note"), max_length=2000, blank=True)
    # Whole days the deal spent in ``from_stage`` before this move: median days in stage.
    days_in_from_stage = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("stage move")
        verbose_name_plural = _("stage moves")
        indexes = [models.Index(fields=["deal", "-at", "-id"], name="stage_move_timeline")]

    def __str__(self) -> str:
        return f"{self.from_stage or '∅'} → {self.to_stage}"

    @property
    def is_backward(self) -> bool:
        return bool(self.from_stage) and 0 < RANK[Stage(self.to_stage)] < RANK[Stage(self.from_stage)]


class ChecklistCheck(models.Model):
    """A ticked due-diligence item on one deal (who and when); unticking deletes it."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="checks")
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="+")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(pgettext_lazy("remark on a deal", "note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("checklist tick")
        verbose_name_plural = _("checklist ticks")
        constraints = [models.UniqueConstraint(fields=["deal", "item"], name="one_check_per_item")]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.item_id}"


class DocumentKind(models.TextChoices):
    CREDIT_REPORT = "credit_report", _("Credit report")
    FINANCIALS = "financials", _("Financial statements")
    FEASIBILITY = "feasibility", _("Feasibility study")
    APPRAISAL = "appraisal", _("Collateral appraisal")
    LEGAL = "legal", _("Legal opinion")
    SITE_VISIT = "site_visit", _("Site visit report")
    OTHER = "other", _("Other")


class DealDocument(models.Model):
    """Metadata of a document held for the deal (the file lives in the document system)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("kind"), max_length=20, choices=DocumentKind.choices)
    title = models.CharField(_("title"), max_length=200)
    reference = models.CharField(
        _("reference"), max_length=300, blank=True, help_text=_("File name or location in the document system.")
    )
    dated = models.DateField(_("document date"), null=True, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-added_at", "-id"]
        verbose_name = _("deal document")
        verbose_name_plural = _("deal documents")

    def __str__(self) -> str:
        return self.title


class ExceptionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class TermsException(models.Model):
    """A request to approve terms outside the tier policy. It covers the exact terms it was
    asked for: changing the deal's terms afterwards needs a new approval."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="exceptions")
    spread_bps = models.IntegerField(null=True)
    collateral_coverage = models.DecimalField(max_digits=5, decimal_places=1, null=True)
    proposed_limit = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    reason = models.TextField(_("why the exception is justified"), max_length=2000)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=ExceptionStatus.choices, default=ExceptionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), max_length=2000, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("terms exception")
        verbose_name_plural = _("terms exceptions")
        constraints = [
            models.UniqueConstraint(
                fields=["deal"], condition=Q(status="pending"), name="one_pending_exception_per_deal"
            )
        ]
        # Who may decide is admin-settable: the permission is granted to the Team manager and
        # Risk officer groups by migration 0006 and checked with the four-eyes rule
        # (funnel.deciders).
        permissions = [("decide_exception", _("Can decide terms exceptions"))]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.status}"

    def covers(self, deal: Deal) -> bool:
        """Approved, and the deal's terms are exactly the ones it states. An empty term states
        nothing, so it covers nothing: NULL is not a value that two rows can agree on (a deal
        with its limit cleared is not "approved for no limit")."""
        stated = (self.spread_bps, self.collateral_coverage, self.proposed_limit)
        return (
            self.status == ExceptionStatus.APPROVED
            and None not in stated
            and stated == (deal.spread_bps, deal.collateral_coverage, deal.proposed_limit)
        )
