from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk import selectors, services
from risk.models import Alert, AlertDigest, AlertEvent, AlertRule, Facility, Repayment, RepaymentInstallment


class InstallmentInline(admin.TabularInline):
    """Shown, not edited: a schedule is replaced as a whole by ``services.schedule_set``, which
    checks it against the facility and keeps the outstanding amount in step."""

    model = RepaymentInstallment
    fields = ["due_date", "principal", "interest"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RepaymentForm(forms.ModelForm):
    class Meta:
        model = Repayment
        fields = ["received_on", "amount", "reference"]

    def clean(self):
        cleaned = super().clean()
        problems = services.repayment_problems(
            self.instance.facility,
            received_on=cleaned.get("received_on"),
            amount=cleaned.get("amount"),
            today=timezone.localdate(),
        )
        if problems:
            raise ValidationError(problems)
        return cleaned


class RepaymentInline(admin.TabularInline):
    """Append-only: new rows can be added (recorded through ``services.repayment_record``);
    saved rows are read-only and cannot be deleted."""

    model = Repayment
    form = RepaymentForm
    fields = ["received_on", "amount", "reference", "entered_by", "entered_at"]
    readonly_fields = ["entered_by", "entered_at"]
    extra = 0
    can_delete = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # saved repayments show read-only

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("entered_by")


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = [
        "customer",
        "deal",
        "limit",
        "drawn",
        "outstanding",
        "amount_overdue",
        "days_overdue",
        "start_date",
        "maturity_date",
    ]
    list_select_related = ["customer", "deal"]
    search_fields = ["customer__name", "deal__title"]
    # Outstanding follows from drawn, schedule and repayments (risk.services), and the limit from
    # the granted limit and the customer's tier policy (risk.services.watch); neither is typed in.
    readonly_fields = ["code", "customer", "deal", "limit", "outstanding", "created_by", "created_at"]
    inlines = [InstallmentInline, RepaymentInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # facilities open when a deal is funded

    def get_queryset(self, request):
        # Overdue figures for the whole page come from the same query (set-based derivation).
        return selectors.with_overdue(super().get_queryset(request), today=timezone.localdate())

    @admin.display(description=_("amount overdue (CNY)"))
    def amount_overdue(self, obj: Facility) -> Decimal:
        return obj.amount_overdue.quantize(Decimal("0.01"))

    @admin.display(description=_("days overdue"))
    def days_overdue(self, obj: Facility) -> int:
        return obj.days_overdue

    def save_model(self, request, obj, form, change) -> None:
        # Only what the user changed: a full save would write back the outstanding amount as
        # it was when the page loaded, undoing a repayment recorded meanwhile.
        if change and form.changed_data:
            obj.save(update_fields=form.changed_data)
        elif not change:
            obj.save()

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not Repayment:
            return super().save_formset(request, form, formset, change)
        # New repayments go through the service so that outstanding moves with them.
        formset.new_objects = [
            services.repayment_record(
                facility=form.instance,
                received_on=new.received_on,
                amount=new.amount,
                reference=new.reference,
                by=request.user,
            )
            for new in formset.save(commit=False)
        ]
        return None


# --- Alerts --------------------------------------------------------------------------------------
class AlertRuleChangeListForm(forms.ModelForm):
    """The changelist row edits ``enabled`` only. ``AlertRule.clean`` checks the whole rule, and
    its complaints about fields that are not on the row (kind, parameters, tiers) would make
    Django fail on the unknown field; they are shown as the row's error instead. Switching a
    rule off is always allowed: stopping a rule that cannot run is no reason to refuse."""

    def _update_errors(self, errors: ValidationError) -> None:
        if not hasattr(errors, "error_dict"):
            return super()._update_errors(errors)
        if not self.cleaned_data.get("enabled"):
            errors = ValidationError({f: m for f, m in errors.error_dict.items() if f in self.fields})
        else:
            kept: dict = {}
            for name, messages in errors.error_dict.items():
                kept.setdefault(name if name in self.fields else NON_FIELD_ERRORS, []).extend(messages)
            errors = ValidationError(kept)
        if errors.error_dict:
            super()._update_errors(errors)
        return None


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "name_zh_hans", "kind", "severity", "tier_list", "enabled", "escalate_after_hours"]
    list_display_links = ["name"]
    list_editable = ["enabled"]
    list_filter = ["enabled", "kind", "severity"]
    search_fields = ["name", "name_zh_hans"]
    fields = [
        "name",
        "name_zh_hans",
        "kind",
        "params",
        "severity",
        "tiers",
        "enabled",
        "escalate_after_hours",
        "created_at",
    ]
    readonly_fields = ["created_at"]

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=AlertRuleChangeListForm, **kwargs)

    @admin.display(description=_("tiers"))
    def tier_list(self, obj: AlertRule) -> str:
        return ", ".join(obj.tiers) if obj.tiers else str(_("all"))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Alerts keep their rule (PROTECT); a rule no longer wanted is switched off.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.alerts.exists())


class AlertEventInline(admin.TabularInline):
    """The alert's history, append-only (risk.services.alerts writes it)."""

    model = AlertEvent
    fields = ["at", "kind", "by", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never written here: alerts change through their services (acknowledge, resolve,
    assign on the alert page; raise and escalate in the beat jobs), which log every change."""

    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["opened", "customer", "rule", "severity", "status", "assignee", "last_seen_at", "escalated_at"]
    list_filter = ["severity", "status", "rule"]
    list_select_related = ["customer", "rule", "assignee"]
    search_fields = ["customer__name", "=code"]
    # An alert is written when it opens, so by id is by date opened, newest first: read backwards
    # along the primary key rather than all sorted (418 ms at 363,510 alerts).
    ordering = ["-id"]
    inlines = [AlertEventInline]
    # Hundreds of thousands of rows: no second COUNT of the whole table for "x of y selected".
    show_full_result_count = False
    fields = [
        "code",
        "customer",
        "rule",
        "severity",
        "status",
        "observed",
        "opened_at",
        "last_seen_at",
        "assignee",
        "acknowledged_at",
        "resolved_at",
        "resolved_note",
        "escalated_at",
        "escalated_to",
    ]
    readonly_fields = fields

    @admin.display(description=_("opened"), ordering="id")
    def opened(self, obj):
        return obj.opened_at


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["when", "alert", "kind", "by"]
    list_filter = ["kind"]
    list_select_related = ["alert__rule", "alert__customer", "by"]  # the alert shows as rule · customer
    ordering = ["-id"]  # written as they happen: by id is by time, newest first, along the primary key
    show_full_result_count = False
    fields = ["alert", "kind", "by", "at", "note"]
    readonly_fields = fields

    @admin.display(description=_("when"), ordering="id")
    def when(self, obj):
        return obj.at


@admin.register(AlertDigest)
class AlertDigestAdmin(ReadOnlyAdmin):
    list_display = ["day", "manager", "alerts", "sent_at"]
    list_filter = ["day"]
    list_select_related = ["manager"]
    fields = ["manager", "day", "alerts", "sent_at"]
    readonly_fields = fields
