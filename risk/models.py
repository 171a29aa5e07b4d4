"""Exposure the firm holds. Facilities open when a deal is funded (see risk.receivers)."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Facility(models.Model):
    """What a funded deal lent: the limit granted and what is drawn and outstanding."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="facilities"
    )
    # One facility per deal: funding the same deal twice cannot open a second one.
    deal = models.OneToOneField(
        "funnel.Deal", verbose_name=_("originating deal"), on_delete=models.PROTECT, related_name="facility"
    )
    limit = models.DecimalField(
        _("limit (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    drawn = models.DecimalField(
        _("drawn (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    outstanding = models.DecimalField(
        _("outstanding (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    start_date = models.DateField(_("start date"))
    maturity_date = models.DateField(_("maturity date"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-start_date", "-id"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        constraints = [
            models.CheckConstraint(
                condition=Q(limit__gte=0) & Q(drawn__gte=0) & Q(outstanding__gte=0), name="facility_amounts_ok"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.limit}"
