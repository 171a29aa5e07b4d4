from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect

from funnel import services
from funnel.exceptions import NotAllowed
from funnel.models import ChecklistItem, Deal, Stage, StageMove, StageSetting, TermsException
from funnel.services import EDITABLE_FIELDS, FROZEN_FIELDS


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
    """Deals are read here and corrected through the same service as on the deal page: an
    approved deal's terms are read-only, and a change saved here goes through
    ``services.deal_update``, which refuses it under the row lock should the deal have been
    approved since the form was loaded."""

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

    def has_add_permission(self, request) -> bool:
        return False  # created on the deal page: services.deal_create sets terms, owner and timeline

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj is None:
            return fields
        # Another customer would leave the deal's owner and team copy behind (the trigger
        # follows customer rows) and its terms judged against the wrong credit limit.
        fields.append("customer")
        if not obj.is_open:
            fields += [name for name in EDITABLE_FIELDS if name not in fields]
        elif obj.stage == Stage.APPROVED:
            fields += list(FROZEN_FIELDS)
        return fields

    def save_model(self, request, obj, form, change) -> None:
        stored = Deal.objects.get(pk=obj.pk)  # the form has already written onto ``obj``
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        if not changed:
            return
        try:
            services.deal_update(deal=stored, by=request.user, **changed)
        except NotAllowed as exc:
            request.deal_refused = True
            self.message_user(request, str(exc), messages.ERROR)

    def log_change(self, request, obj, message):
        if getattr(request, "deal_refused", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj) -> HttpResponse:
        if getattr(request, "deal_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(TermsException)
class TermsExceptionAdmin(admin.ModelAdmin):
    list_display = ["deal", "status", "requested_by", "requested_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["deal", "requested_by", "decided_by"]
    readonly_fields = [f.name for f in TermsException._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
