from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from simple_history.admin import SimpleHistoryAdmin

from customers.exchange.kinds import CREDIT_REPORTS, CUSTOMERS, FINANCIAL_STATEMENTS, ImportKind, kinds_for
from customers.models import Activity, Contact, CreditReport, Customer, FinancialStatement
from customers.models.customer import GRADING_FIELDS
from customers.services import inputs_changed

# Files go in and out through the pages everyone uses (customers.views.exchange), never through
# an import of the admin's own: the same caps on what a file may unfold into, the same access
# checks, preview, confirm and re-grading apply to an admin's file as to anyone's.
EXCHANGE_CHANGE_LIST = "admin/customers/exchange_change_list.html"


def _exchange_links(request: HttpRequest, kind: ImportKind, *, export: bool = False) -> dict[str, Any]:
    """What a change list's object tools link to: the import page opened at ``kind`` if this
    user may import it there, and the customer export."""
    links: dict[str, Any] = {}
    if kind in kinds_for(request.user):
        links["import_url"] = f"{reverse('customers:import')}?{urlencode({'kind': kind.key})}"
    if export:
        links["export_urls"] = {"csv": reverse("customers:export_csv"), "xlsx": reverse("customers:export_xlsx")}
    return links


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
class CustomerAdmin(SimpleHistoryAdmin):
    change_list_template = EXCHANGE_CHANGE_LIST
    list_display = ["name", "credit_code", "industry", "tier", "owner", "team", "status"]
    list_filter = ["tier", "status", "industry", "team"]
    list_select_related = ["owner", "team"]
    search_fields = ["name", "credit_code"]
    autocomplete_fields = ["owner", "team"]
    # Grading inputs come from the data sources and outputs from the re-grade: never typed here.
    readonly_fields = ["code", *GRADING_FIELDS, "created_at", "updated_at"]
    inlines = [ContactInline, ActivityInline]
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        links = _exchange_links(request, CUSTOMERS, export=True)
        return super().changelist_view(request, {**(extra_context or {}), **links})


class SourceAdmin(admin.ModelAdmin):
    """Data sources with their provenance. Every change here refreshes the customer's grading
    inputs and re-grades it, as the intake services do."""

    list_select_related = ["customer", "entered_by"]
    search_fields = ["customer__name", "customer__credit_code"]
    list_filter = ["source", "as_of"]
    date_hierarchy = "as_of"
    autocomplete_fields = ["customer"]
    readonly_fields = ["code", "entered_by", "entered_at"]
    show_full_result_count = False
    change_list_template = EXCHANGE_CHANGE_LIST
    import_kind: ImportKind

    def changelist_view(self, request, extra_context=None):
        links = _exchange_links(request, self.import_kind)
        return super().changelist_view(request, {**(extra_context or {}), **links})

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
    import_kind = CREDIT_REPORTS
    list_display = ["customer", "as_of", "bureau", "rating", "overdue_count", "outstanding_debt", "source"]


@admin.register(FinancialStatement)
class FinancialStatementAdmin(SourceAdmin):
    import_kind = FINANCIAL_STATEMENTS
    list_display = ["customer", "as_of", "period", "revenue", "net_profit", "total_assets", "source"]


from customers import admin_scoring  # noqa: E402,F401 - registers scorecard admin
