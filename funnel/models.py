"""Deals moving through the method's three-layer funnel (客户关系漏斗)."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from crm.scope import Scope
from customers.models import Customer


class Stage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect identified")
    PRELIMINARY = "preliminary", _("Preliminary assessment")
    DUE_DILIGENCE = "due_diligence", _("Due diligence")
    APPROVED = "approved", _("Approved")
    FUNDED = "funded", _("Funded")
    LOST = "lost", _("Lost")


OPEN_STAGES = (Stage.PROSPECT, Stage.PRELIMINARY, Stage.DUE_DILIGENCE, Stage.APPROVED)
CLOSED_STAGES = (Stage.FUNDED, Stage.LOST)
# How far along the funnel a stage is; Lost is off the line. ``Deal.max_rank`` keeps the furthest
# rank a deal reached, which is what layer-to-layer conversion counts.
RANK = {
    Stage.PROSPECT: 1,
    Stage.PRELIMINARY: 2,
    Stage.DUE_DILIGENCE: 3,
    Stage.APPROVED: 4,
    Stage.FUNDED: 5,
    Stage.LOST: 0,
}
LAYER = {Stage.PROSPECT: 1, Stage.PRELIMINARY: 2, Stage.DUE_DILIGENCE: 3}


class ProjectType(models.TextChoices):
    POWER = "power", _("Power generation")
    RENEWABLE = "renewable", _("Wind and solar")
    ROAD = "road", _("Roads and bridges")
    RAIL = "rail", _("Rail and transit")
    PORT = "port", _("Ports and airports")
    WATER = "water", _("Water and waste")
    DATA_CENTRE = "data_centre", _("Data centre")
    INDUSTRIAL = "industrial", _("Industrial park")
    REAL_ESTATE = "real_estate", _("Real estate development")
    OTHER = "other", _("Other")


class LostReason(models.TextChoices):
    PRICING = "pricing", _("Pricing or terms not accepted")
    COMPETITOR = "competitor", _("Went to a competitor")
    CREDIT = "credit", _("Credit declined")
    WITHDRAWN = "withdrawn", _("Customer withdrew")
    PROJECT = "project", _("Project cancelled or postponed")
    OTHER = "other", _("Other")


class LocalizedName(models.Model):
    """Admin-edited text shown to users: an English name and an optional Chinese one."""

    name = models.CharField(_("name (English)"), max_length=200)
    name_zh_hans = models.CharField(
        _("name (Simplified Chinese)"), max_length=200, blank=True, help_text=_("Leave empty to show the English name.")
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.localized_name

    @property
    def localized_name(self) -> str:
        if (get_language() or "").lower().startswith("zh") and self.name_zh_hans:
            return self.name_zh_hans
        return self.name


class StageSettingQuerySet(models.QuerySet):
    def by_stage(self) -> dict[str, "StageSetting"]:
        """All six settings keyed by stage: pages load them once, not once per row."""
        return {s.stage: s for s in self}


class StageSetting(models.Model):
    """Per stage, what admins tune: the name shown, the win probability and how long a deal
    should sit in it before it counts as overdue."""

    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, unique=True, editable=False)
    display_name = models.CharField(
        _("display name (English)"),
        max_length=60,
        blank=True,
        help_text=_("Leave empty for the standard name."),
    )
    display_name_zh_hans = models.CharField(
        _("display name (Simplified Chinese)"),
        max_length=60,
        blank=True,
        help_text=_("Leave empty for the standard name."),
    )
    probability = models.PositiveSmallIntegerField(_("win probability (%)"), validators=[MaxValueValidator(100)])
    expected_days = models.PositiveIntegerField(
        _("expected days in stage"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("A deal longer than this in the stage is overdue. Empty for Funded and Lost."),
    )

    objects = StageSettingQuerySet.as_manager()

    class Meta:
        verbose_name = _("stage setting")
        verbose_name_plural = _("stage settings")
        constraints = [
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_percent"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        chinese = (get_language() or "").lower().startswith("zh")
        custom = self.display_name_zh_hans if chinese else self.display_name
        return custom or str(Stage(self.stage).label)

    @property
    def rank(self) -> int:
        return RANK[Stage(self.stage)]


class ChecklistItem(LocalizedName):
    """One item of the due-diligence checklist (尽职调查), edited in admin."""

    guidance = models.TextField(_("guidance"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(
        _("required"), default=True, help_text=_("Only required items must be ticked before approval.")
    )

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("due-diligence checklist item")
        verbose_name_plural = _("due-diligence checklist items")


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
