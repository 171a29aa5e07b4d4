"""Exposure the firm holds: facilities (opened when a deal is funded, risk.services.facility_open),
their repayment schedules and the repayments received."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk.models.scope_copy import customer_owner_and_team


class Facility(models.Model):
    """What a funded deal lent: the limit granted and what is drawn and outstanding."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="facilities"
    )
    # The customer's RM and team, copied by database triggers (migration risk/0017) when the
    # facility is inserted or moved to another customer and whenever the customer's owner or team
    # change, so that "whose facilities may I see" is an index range in list order
    # (crm.scope.Scope), as for deals and alerts.
    owner, team = customer_owner_and_team()
    # One facility per deal: funding the same deal twice cannot open a second one.
    deal = models.OneToOneField(
        "funnel.Deal", verbose_name=_("originating deal"), on_delete=models.PROTECT, related_name="facility"
    )
    # What was approved at funding. ``limit`` is the part of it the customer's tier policy allows
    # today: risk.services.watch.facility_limits_follow() keeps it at min(granted, customer credit limit),
    # so a downgrade lowers it and drawn above it becomes a limit breach.
    granted_limit = models.DecimalField(
        _("granted limit (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
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
    # How far the repayments reach, kept by database triggers on the schedule and the repayments
    # whatever writes them (migration 0012): the due date of the first installment the money
    # received so far does not cover (NULL: the whole schedule is covered), and the date of the
    # latest repayment. The payment-overdue rule reads them instead of summing both tables.
    first_unpaid_due = models.DateField(_("first installment not covered"), null=True, editable=False)
    last_repaid_on = models.DateField(_("latest repayment"), null=True, editable=False)

    class Meta:
        ordering = ["-start_date", "-id"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        indexes = [
            # The list, newest first, for each scope (all, team, own): a page is the first rows
            # of one range (crm.keyset), not every visible facility sorted.
            models.Index(fields=["-start_date", "-id"], name="facility_list"),
            models.Index(fields=["team", "-start_date", "-id"], name="facility_team_list"),
            models.Index(fields=["owner", "-start_date", "-id"], name="facility_owner_list"),
            models.Index(fields=["first_unpaid_due"], name="facility_first_unpaid"),
            models.Index(fields=["last_repaid_on"], name="facility_last_repaid"),
            # The limit-breach rule, per customer: what open facilities draw, and those over
            # their own limit (few), each read from the index alone.
            models.Index(
                fields=["customer"], include=["drawn"], condition=Q(outstanding__gt=0), name="facility_open_drawn"
            ),
            models.Index(
                fields=["customer"], condition=Q(outstanding__gt=0, drawn__gt=F("limit")), name="facility_over_limit"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(limit__gte=0) & Q(drawn__gte=0) & Q(outstanding__gte=0), name="facility_amounts_ok"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.limit}"


class RepaymentInstallment(models.Model):
    """One line of a facility's repayment schedule: what falls due on a date. Installments due
    on or before today are history; ``risk.services.schedule_set`` replaces only later ones."""

    facility = models.ForeignKey(
        Facility, verbose_name=_("facility"), on_delete=models.CASCADE, related_name="installments"
    )
    due_date = models.DateField(_("due date"))
    principal = models.DecimalField(
        _("principal (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    interest = models.DecimalField(
        _("interest (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("repayment installment")
        verbose_name_plural = _("repayment schedule")
        constraints = [
            # Also the index the overdue derivation walks: (facility, due_date) in order.
            models.UniqueConstraint(fields=["facility", "due_date"], name="installment_one_per_facility_date"),
            models.CheckConstraint(condition=Q(principal__gte=0) & Q(interest__gte=0), name="installment_amounts_ok"),
        ]

    def __str__(self) -> str:
        return f"{self.due_date} {self.principal} + {self.interest}"

    @property
    def amount(self) -> Decimal:
        return self.principal + self.interest


class Repayment(models.Model):
    """Money received against a facility. Append-only: a wrong entry is corrected by a new one
    (e.g. from the bank's reversal), never by editing or deleting this row."""

    facility = models.ForeignKey(
        Facility, verbose_name=_("facility"), on_delete=models.PROTECT, related_name="repayments"
    )
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(
        _("amount (CNY)"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("entered by"), on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["received_on", "id"]
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")
        indexes = [
            # "Repaid up to a date" per facility, summed for many facilities at once.
            models.Index(fields=["facility", "received_on"], name="repayment_facility_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.received_on} {self.amount}"
