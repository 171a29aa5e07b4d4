"""The funnel's stages and what admins set per stage: labels, expected days, checklists."""

import datetime

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.models import LocalizedName


class Stage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect identified")
    PRELIMINARY = "preliminary", _("Preliminary assessment")
    DUE_DILIGENCE = "due_diligence", _("Due diligence")
    APPROVED = "approved", _("Approved")
    FUNDED = "funded", _("Funded")
    LOST = "lost", _("Lost")


# A deal is overdue in its stage after more than OVERDUE_FACTOR (3/2) times the expected days.
OVERDUE_FACTOR = (3, 2)
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
        help_text=_(
            "How long a deal should take in this stage; half as long again and it is overdue. Empty for Funded, Lost."
        ),
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

    # --- Overdue: the one rule the board, the deal list, the deal page and the daily stale-deal
    # job share. Expected days are a plan, not a deadline: a deal a few days past them is normal,
    # and marking it would put the marker on most cards. Overdue is half as long again.
    @property
    def overdue_after(self) -> int | None:
        """Whole days in the stage after which an open deal is overdue (1.5 × the expected days,
        rounded down); None for Funded, Lost and stages without expected days."""
        if self.expected_days is None or self.stage not in OPEN_STAGES:
            return None
        return self.expected_days * OVERDUE_FACTOR[0] // OVERDUE_FACTOR[1]

    def is_overdue(self, days_in_stage: int) -> bool:
        """Whether a deal ``days_in_stage`` whole days in this stage is overdue."""
        limit = self.overdue_after
        return limit is not None and days_in_stage > limit

    def overdue_cutoff(self, now: datetime.datetime) -> datetime.datetime | None:
        """Deals that entered this stage at or before this moment are overdue at ``now`` (the
        same rule as ``is_overdue`` for a query: more than ``overdue_after`` whole days)."""
        limit = self.overdue_after
        return None if limit is None else now - datetime.timedelta(days=limit + 1)


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
