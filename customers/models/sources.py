"""The data a grade is computed from, each row with its provenance: where it came from, what date
it describes, who entered it. Rows are never edited in place; a newer report is a new row."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models.customer import CreditRating, Customer

NON_NEGATIVE = [MinValueValidator(0, message=_("This amount cannot be negative."))]


class DataSource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    IMPORT = "import", _("File import")
    CREDIT_BUREAU = "bureau", _("Credit bureau")
    PUBLIC_REGISTRY = "registry", _("Public registry")


class SourcedRecord(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(_("source"), max_length=20, choices=DataSource.choices, default=DataSource.MANUAL)
    as_of = models.DateField(_("as of"), help_text=_("The date the figures describe."))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("entered by"), on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered at"), default=timezone.now, editable=False)

    class Meta:
        abstract = True


class CreditReport(SourcedRecord):
    """A credit-bureau report (征信报告) on the company."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_reports")
    bureau = models.CharField(_("bureau"), max_length=100, default="PBOC Credit Reference Center")
    rating = models.CharField(_("bureau rating"), max_length=3, choices=CreditRating.choices)
    overdue_count = models.PositiveIntegerField(_("overdue payments (count)"), default=0)
    overdue_amount = models.DecimalField(
        _("overdue amount (CNY)"), max_digits=18, decimal_places=2, default=Decimal("0"), validators=NON_NEGATIVE
    )
    outstanding_debt = models.DecimalField(
        _("outstanding debt (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE
    )
    litigation = models.BooleanField(_("pending litigation"), default=False)

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("credit report")
        verbose_name_plural = _("credit reports")
        indexes = [models.Index(fields=["customer", "-as_of"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(overdue_amount__gte=0) & Q(outstanding_debt__gte=0), name="credit_report_amounts_ok"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bureau} {self.as_of}"


class FinancialStatement(SourcedRecord):
    """Annual or interim accounts; ``as_of`` is the end of the period."""

    class Period(models.TextChoices):
        ANNUAL = "annual", _("Annual")
        HALF_YEAR = "half", _("Half-year")
        QUARTER = "quarter", _("Quarter")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="financial_statements")
    period = models.CharField(_("period"), max_length=10, choices=Period.choices, default=Period.ANNUAL)
    revenue = models.DecimalField(_("revenue (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE)
    net_profit = models.DecimalField(_("net profit (CNY)"), max_digits=18, decimal_places=2)
    total_assets = models.DecimalField(
        _("total assets (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE
    )
    total_liabilities = models.DecimalField(
        _("total liabilities (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE
    )
    current_assets = models.DecimalField(
        _("current assets (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE
    )
    current_liabilities = models.DecimalField(
        _("current liabilities (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE
    )

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("financial statement")
        verbose_name_plural = _("financial statements")
        indexes = [models.Index(fields=["customer", "-as_of"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_assets__gte=0)
                & Q(total_liabilities__gte=0)
                & Q(current_assets__gte=0)
                & Q(current_liabilities__gte=0)
                & Q(revenue__gte=0),
                name="financial_statement_amounts_ok",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.as_of}"

    @property
    def debt_ratio(self) -> Decimal | None:
        """Total liabilities ÷ total assets (资产负债率), four decimals."""
        if not self.total_assets:
            return None
        return (self.total_liabilities / self.total_assets).quantize(Decimal("0.0001"))

    @property
    def current_ratio(self) -> Decimal | None:
        """Current assets ÷ current liabilities (流动比率), four decimals."""
        if not self.current_liabilities:
            return None
        return (self.current_assets / self.current_liabilities).quantize(Decimal("0.0001"))


class FundingNeed(SourcedRecord):
    """What the customer wants financed (资金需求)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="funding_needs")
    project_amount = models.DecimalField(
        _("project amount (CNY)"), max_digits=18, decimal_places=2, validators=NON_NEGATIVE
    )
    purpose = models.CharField(_("purpose"), max_length=200)
    term_months = models.PositiveIntegerField(_("term (months)"))

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("funding need")
        verbose_name_plural = _("funding needs")
        indexes = [models.Index(fields=["customer", "-as_of"])]
        constraints = [models.CheckConstraint(condition=Q(project_amount__gte=0), name="funding_need_amount_ok")]

    def __str__(self) -> str:
        return self.purpose


class CooperationRecord(SourcedRecord):
    """Past business with the customer (合作历史): ``as_of`` is when the cooperation began."""

    class Kind(models.TextChoices):
        LOAN = "loan", _("Loan")
        ADVISORY = "advisory", _("Advisory mandate")
        DEPOSIT = "deposit", _("Deposits and settlement")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cooperation_records")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=200)
    amount = models.DecimalField(
        _("amount (CNY)"), max_digits=18, decimal_places=2, null=True, blank=True, validators=NON_NEGATIVE
    )

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("cooperation record")
        verbose_name_plural = _("cooperation records")
        indexes = [models.Index(fields=["customer", "as_of"])]

    def __str__(self) -> str:
        return self.description
