from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk import selectors, services
from risk.models import Facility, Repayment, RepaymentInstallment


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
    # the granted limit and the customer's tier policy (risk.watch); neither is typed in.
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
