from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from customers.models import Activity, Contact, Customer


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
    list_display = ["name", "credit_code", "industry", "tier", "owner", "team", "status"]
    list_filter = ["tier", "status", "industry", "team"]
    list_select_related = ["owner", "team"]
    search_fields = ["name", "credit_code"]
    autocomplete_fields = ["owner", "team"]
    readonly_fields = ["code", "tier", "score", "created_at", "updated_at"]
    inlines = [ContactInline, ActivityInline]
    show_full_result_count = False
from customers import admin_scoring  # noqa: E402,F401 - registers scorecard admin
