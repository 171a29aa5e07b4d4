from django.contrib import admin
from import_export.admin import ImportExportMixin, ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from customers.exchange.resources import CreditReportResource, CustomerResource, FinancialStatementResource
from customers.intake import inputs_changed
from customers.models import Activity, Contact, CreditReport, Customer, FinancialStatement
from customers.models.customer import GRADING_FIELDS


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


class ActivityInline(admin.TabularInline):
    model = Activity
    extra = 0
    fields = ["occurred_at", "kind", "author", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the activity log is append-only, written from the customer page


@admin.register(Customer)
class CustomerAdmin(ImportExportMixin, SimpleHistoryAdmin):
    resource_classes = [CustomerResource]
    list_display = ["name", "credit_code", "industry", "tier", "owner", "team", "status"]
    list_filter = ["tier", "status", "industry", "team"]
    list_select_related = ["owner", "team"]
    search_fields = ["name", "credit_code"]
    autocomplete_fields = ["owner", "team"]
    # Grading inputs come from the data sources and outputs from the re-grade: never typed here.
    readonly_fields = ["code", *GRADING_FIELDS, "created_at", "updated_at"]
    inlines = [ContactInline, ActivityInline]
    show_full_result_count = False

    # django-import-export lets any staff user import and export unless told otherwise.
    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)


class SourceAdmin(ImportExportModelAdmin):
    """Data sources with their provenance. Every change here refreshes the customer's grading
    inputs and re-grades it, as the intake services do."""

    list_select_related = ["customer", "entered_by"]
    search_fields = ["customer__name", "customer__credit_code"]
    list_filter = ["source", "as_of"]
    date_hierarchy = "as_of"
    autocomplete_fields = ["customer"]
    readonly_fields = ["code", "entered_by", "entered_at"]
    show_full_result_count = False

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request)

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.entered_by = request.user
        super().save_model(request, obj, form, change)
        inputs_changed(customer_ids=[obj.customer_id])

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        inputs_changed(customer_ids=[obj.customer_id])

    def delete_queryset(self, request, queryset) -> None:
        customer_ids = set(queryset.values_list("customer_id", flat=True))
        super().delete_queryset(request, queryset)
        inputs_changed(customer_ids=customer_ids)


@admin.register(CreditReport)
class CreditReportAdmin(SourceAdmin):
    resource_classes = [CreditReportResource]
    list_display = ["customer", "as_of", "bureau", "rating", "overdue_count", "outstanding_debt", "source"]


@admin.register(FinancialStatement)
class FinancialStatementAdmin(SourceAdmin):
    resource_classes = [FinancialStatementResource]
    list_display = ["customer", "as_of", "period", "revenue", "net_profit", "total_assets", "source"]


from customers import admin_scoring  # noqa: E402,F401 - registers scorecard admin
