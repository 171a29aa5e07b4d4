from django.contrib import admin

from funnel.models import ChecklistItem, Deal, StageMove, StageSetting, TermsException


@admin.register(StageSetting)
class StageSettingAdmin(admin.ModelAdmin):
    """The six stages exist by migration; admins tune them but cannot add or remove any."""

    list_display = ["stage", "display_name", "display_name_zh_hans", "probability", "expected_days"]
    list_editable = ["probability", "expected_days"]
    readonly_fields = ["stage"]
    ordering = ["id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ["name", "name_zh_hans", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name", "name_zh_hans"]


class StageMoveInline(admin.TabularInline):
    model = StageMove
    extra = 0
    fields = ["at", "from_stage", "to_stage", "by", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # moves go through the gates, on the board or the deal page


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["title", "customer", "stage", "amount", "owner", "team", "expected_close", "stage_entered_at"]
    list_filter = ["stage", "project_type"]
    list_select_related = ["customer", "owner", "team"]
    search_fields = ["title", "customer__name", "customer__credit_code"]
    autocomplete_fields = ["customer"]
    # The stage changes only through funnel.services.deal_move (gates, timeline, facility).
    # Owner and team follow the customer (a trigger keeps them equal).
    readonly_fields = ["code", "owner", "team", "stage", "stage_entered_at", "lost_reason", "created_at", "updated_at"]
    inlines = [StageMoveInline]
    show_full_result_count = False


@admin.register(TermsException)
class TermsExceptionAdmin(admin.ModelAdmin):
    list_display = ["deal", "status", "requested_by", "requested_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["deal", "requested_by", "decided_by"]
    readonly_fields = [f.name for f in TermsException._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
