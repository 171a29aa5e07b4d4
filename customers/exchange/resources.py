"""django-import-export resources for the Django admin (staff only).

The admin's own import runs a dry run (its preview) and then the real import in one transaction;
model validation (``clean_model_instances``) applies the same rules as the forms: credit-code
check digit, no negative amounts, valid choices. Source rows name their customer by credit
code; importing them re-grades those customers like any other data change.
"""

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from crm.models import User
from customers.credit_code import normalize_credit_code
from customers.intake import inputs_changed
from customers.models import CreditReport, Customer, DataSource, FinancialStatement
from customers.models.customer import GRADING_FIELDS


class CreditCodeWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        value = super().clean(value, row, **kwargs)
        return normalize_credit_code(value) if value else value


class CustomerByCreditCodeWidget(widgets.ForeignKeyWidget):
    def __init__(self):
        super().__init__(Customer, field="credit_code")

    def clean(self, value, row=None, **kwargs):
        code = normalize_credit_code(value) if value else value
        try:
            return super().clean(code, row, **kwargs)
        except ObjectDoesNotExist:
            raise ValueError(_("No customer has the credit code %(code)s.") % {"code": code}) from None


class AllOrNothingResource(resources.ModelResource):
    """A file with an invalid row imports nothing, as on the RM-facing import page. (The admin
    offers the confirm step only after a clean dry run; this holds for any other caller.)"""

    def import_data(self, dataset, **kwargs):
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, **kwargs)


class CustomerResource(AllOrNothingResource):
    credit_code = fields.Field(attribute="credit_code", column_name="credit_code", widget=CreditCodeWidget())
    owner = fields.Field(
        attribute="owner", column_name="owner", widget=widgets.ForeignKeyWidget(User, field="username")
    )
    team = fields.Field(attribute="team__name", column_name="team", readonly=True)

    class Meta:
        model = Customer
        fields = (
            "credit_code",
            "name",
            "industry",
            "registered_capital",
            "industry_position",
            "credit_rating",
            "status",
            "owner",
            "team",
        )
        export_order = fields
        import_id_fields = ("credit_code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("owner", "team")

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        # Grading inputs and outputs are written by the grading code, never by hand; like the
        # customer form, validate what a person may set (null grading inputs are not "blank").
        errors = dict(import_validation_errors or {})
        try:
            instance.full_clean(exclude=[*errors, *GRADING_FIELDS], validate_unique=validate_unique)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        # A customer belongs to its relationship manager's team, as in customer_create().
        if instance.owner_id:
            instance.team_id = instance.owner.team_id


class SourceResource(AllOrNothingResource):
    """Shared by the data-source resources: customer by credit code, provenance, re-grading."""

    customer = fields.Field(attribute="customer", column_name="credit_code", widget=CustomerByCreditCodeWidget())

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.customer_ids: set[int] = set()

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("customer")

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.pk is None:
            instance.source = DataSource.IMPORT
            user = kwargs.get("user")
            if user is not None:
                instance.entered_by = user
        if instance.customer_id:
            self.customer_ids.add(instance.customer_id)

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        clean = not result.has_errors() and not result.has_validation_errors()
        if self.customer_ids and clean and not kwargs.get("dry_run"):
            inputs_changed(customer_ids=self.customer_ids)


class CreditReportResource(SourceResource):
    class Meta:
        model = CreditReport
        force_init_instance = True  # sources are append-only: every row is a new record
        fields = (
            "customer",
            "as_of",
            "bureau",
            "rating",
            "overdue_count",
            "overdue_amount",
            "outstanding_debt",
            "litigation",
        )
        export_order = fields
        clean_model_instances = True


class FinancialStatementResource(SourceResource):
    class Meta:
        model = FinancialStatement
        force_init_instance = True
        fields = (
            "customer",
            "as_of",
            "period",
            "revenue",
            "net_profit",
            "total_assets",
            "total_liabilities",
            "current_assets",
            "current_liabilities",
        )
        export_order = fields
        clean_model_instances = True
