from django.contrib import admin

from risk.models import Facility


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ["customer", "deal", "limit", "drawn", "outstanding", "start_date", "maturity_date"]
    list_select_related = ["customer", "deal"]
    search_fields = ["customer__name", "deal__title"]
    readonly_fields = ["code", "customer", "deal", "created_by", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # facilities open when a deal is funded
