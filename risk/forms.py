import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from risk.access import alert_assignees
from risk.models import Alert

# A page of the alert list holds 50; anything far beyond that did not come from the page.
MAX_BULK = 200


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("How was it resolved?"),
        max_length=5000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say how the alert was resolved: a note is required.")},
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=None,
        to_field_name="code",
        empty_label=None,
        error_messages={
            "required": _("Choose whom to assign the alert to."),
            "invalid_choice": _("That person cannot see this customer; choose someone from the list."),
        },
    )

    def __init__(self, *args, alert: Alert, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = alert_assignees(alert)


class CodesField(forms.Field):
    """Several alert codes from checkboxes of the same name."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[uuid.UUID]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            return list(dict.fromkeys(uuid.UUID(str(v)) for v in value))
        except ValueError as exc:
            raise ValidationError(_("The selection was not understood; reload the list."), code="invalid") from exc


class BulkAcknowledgeForm(forms.Form):
    codes = CodesField(error_messages={"required": _("Select the alerts to acknowledge.")})

    def clean_codes(self) -> list[uuid.UUID]:
        codes = self.cleaned_data["codes"]
        if len(codes) > MAX_BULK:
            raise ValidationError(
                _("Acknowledge at most %(max)d alerts at a time.") % {"max": MAX_BULK}, code="too_many"
            )
        return codes


class RepaymentForm(forms.Form):
    """One repayment entered on the facility page. Only the shape of the input is checked here;
    whether it may be booked is ``risk.services.repayment_enter``'s (the import's rules)."""

    received_on = forms.DateField(
        label=_("Received on"),
        # ISO whatever the language: a date input shows nothing for "2025年5月15日".
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Give the date the money was received.")},
    )
    amount = forms.DecimalField(
        label=_("Amount (CNY)"),
        max_digits=18,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"required": _("Give the amount received.")},
    )
    reference = forms.CharField(
        label=_("Bank reference"),
        max_length=100,
        required=False,
        strip=True,
        help_text=_("Optional, but it is what recognises a repayment booked twice."),
    )
