"""Scorecards (admin-edited, versioned), the grade history they produce, risk officers'
overrides, and the tier policies that turn a tier into terms."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.choices import Tier
from customers.grading import ATTRIBUTES, BandSpec, CriterionSpec, ScorecardSpec
from customers.models.customer import Customer


class ScorecardStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("scorecard status", "Draft")
    ACTIVE = "active", pgettext_lazy("scorecard status", "Active")
    RETIRED = "retired", pgettext_lazy("scorecard status", "Retired")


class CriterionGroup(models.TextChoices):
    QUALIFICATION = "qualification", _("Qualification")
    CREDIT = "credit", _("Credit")
    FUNDING_NEED = "funding_need", _("Funding need")
    COOPERATION = "cooperation", _("Cooperation potential")


class Scorecard(models.Model):
    """One version of the grading criteria. Drafts are edited; publishing makes a draft the
    single active version and retires the previous one. Active and retired versions are frozen
    so every grade can be explained by the version that produced it."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(
        _("status"), max_length=10, choices=ScorecardStatus.choices, default=ScorecardStatus.DRAFT
    )
    cutoff_aa = models.DecimalField(
        _("AA from score"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    cutoff_a = models.DecimalField(
        _("A from score"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    published_at = models.DateTimeField(_("published"), null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    # The portfolio re-grade its publication asked for: its progress is shown on the card.
    regrade_job = models.ForeignKey(
        "crm.Job",
        verbose_name=_("re-grade"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-version"]
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_scorecard")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status == ScorecardStatus.DRAFT

    def spec(self) -> ScorecardSpec:
        """The pure description grading works with (two queries)."""
        criteria = list(self.criteria.order_by("order", "id"))
        bands: dict[int, list[BandSpec]] = {c.pk: [] for c in criteria}
        ordered = Band.objects.filter(criterion__scorecard=self).order_by(
            F("lower").asc(nulls_first=True), "category", "id"
        )
        for band in ordered:
            bands[band.criterion_id].append(
                BandSpec(points=band.points, lower=band.lower, upper=band.upper, category=band.category)
            )
        return ScorecardSpec(
            criteria=tuple(
                CriterionSpec(
                    attribute=c.attribute, weight=c.weight, bands=tuple(bands[c.pk]), label=c.get_attribute_display()
                )
                for c in criteria
            ),
            cutoff_aa=self.cutoff_aa,
            cutoff_a=self.cutoff_a,
            version=self.version,
        )


class Criterion(models.Model):
    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="criteria")
    group = models.CharField(_("group"), max_length=20, choices=CriterionGroup.choices)
    attribute = models.CharField(
        _("customer attribute"), max_length=40, choices=[(a.name, a.label) for a in ATTRIBUTES.values()]
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"), help_text=_("Integer; the weights of a scorecard add up to 100.")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        constraints = [models.UniqueConstraint(fields=["scorecard", "attribute"], name="criterion_attribute_once")]

    def __str__(self) -> str:
        return f"{self.get_group_display()}: {self.get_attribute_display()} ×{self.weight}"


class Band(models.Model):
    """Numeric criteria: a range [lower, upper) — empty bound meaning unbounded. Categorical
    criteria: one category per band."""

    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="bands")
    lower = models.DecimalField(_("from (inclusive)"), max_digits=20, decimal_places=4, null=True, blank=True)
    upper = models.DecimalField(_("below (exclusive)"), max_digits=20, decimal_places=4, null=True, blank=True)
    category = models.CharField(_("category"), max_length=40, blank=True)
    points = models.PositiveSmallIntegerField(_("points"), validators=[MaxValueValidator(100)])

    class Meta:
        ordering = ["lower", "category", "id"]
        verbose_name = _("band")
        verbose_name_plural = _("bands")

    def __str__(self) -> str:
        if self.category:
            return f"{self.category} → {self.points}"
        lower = "−∞" if self.lower is None else self.lower
        upper = "∞" if self.upper is None else self.upper
        return f"[{lower}, {upper}) → {self.points}"


class GradeReason(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled re-grade")
    DATA_CHANGED = "data_changed", _("Data changed")
    SCORECARD_PUBLISHED = "scorecard_published", _("Scorecard published")
    OVERRIDE = "override", _("Override")
    OVERRIDE_LAPSED = "override_lapsed", _("Override expired")


class Grade(models.Model):
    """Append-only: one row each time a customer's grade changed. Written in bulk by the
    re-grade statement (customers.regrade), never edited."""

    # No index of its own: (customer, -created_at) below leads with it.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="grades", db_index=False)
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    computed_tier = models.CharField(_("computed tier"), max_length=10, choices=Tier.choices)
    previous_tier = models.CharField(_("previous tier"), max_length=10, choices=Tier.choices, blank=True)
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2, null=True)
    breakdown = models.JSONField(_("points per criterion"), default=dict)
    # Served by a BRIN index on PostgreSQL (customers/0019), as is created_at.
    scorecard = models.ForeignKey(Scorecard, on_delete=models.PROTECT, related_name="grades", null=True, db_index=False)
    reason = models.CharField(_("reason"), max_length=30, choices=GradeReason.choices)
    created_at = models.DateTimeField(_("graded at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.tier} {self.created_at:%Y-%m-%d}"


class TierOverride(models.Model):
    """A risk officer's judgement beside the computed grade. The effective tier follows it
    until it expires; the computed tier stays visible."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="overrides")
    tier = models.CharField(_("tier"), max_length=10, choices=[(t.value, t.label) for t in (Tier.AA, Tier.A, Tier.B)])
    reason = models.TextField(_("reason"), max_length=2000)
    expires_at = models.DateTimeField(_("expires"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tier override")
        verbose_name_plural = _("tier overrides")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.tier} until {self.expires_at:%Y-%m-%d}"


class TierPolicy(models.Model):
    """What a tier means for financing terms and supervision (融资方案优化)."""

    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, unique=True)
    spread_bps = models.IntegerField(
        _("pricing spread (bp over base rate)"),
        help_text=_("Basis points over the base rate; lower for better tiers (preferential rate)."),
    )
    collateral_coverage = models.DecimalField(
        _("collateral coverage required (%)"),
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(0)],
        help_text=_("Collateral and guarantees as a percentage of the facility."),
    )
    capital_multiple = models.DecimalField(
        _("credit limit: multiple of registered capital"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )
    limit_cap = models.DecimalField(
        _("credit limit: cap (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(0)]
    )
    review_interval_days = models.PositiveIntegerField(_("review interval (days)"))
    monitoring_interval_days = models.PositiveIntegerField(_("monitoring interval (days)"))
    max_data_age_days = models.PositiveIntegerField(_("data older than this is stale (days)"), default=365)

    class Meta:
        ordering = ["tier"]
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policies")
        constraints = [
            # Re-grading compares customers' tiers with these values in SQL; a value the form's
            # choices would refuse must not get in by any other route either.
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="tier_policy_tier_valid"),
        ]

    def __str__(self) -> str:
        return str(Tier(self.tier).label)

    def credit_limit(self, registered_capital: Decimal) -> Decimal:
        """min(capital × multiple, cap), to the yuan."""
        return min(registered_capital * self.capital_multiple, self.limit_cap).quantize(Decimal("0.01"))
