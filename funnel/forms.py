from crispy_forms.helper import FormHelper
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.validators import refuse_control_characters
from customers.access import customers_for
from customers.credit_code import normalize_credit_code
from funnel.gates import allowed_targets
from funnel.models import RANK, ChecklistItem, Deal, DealDocument, LostReason, Stage, StageSetting
from funnel.services import EDITABLE_FIELDS, FROZEN_FIELDS, TERMS_FIELDS


class CustomerByCreditCode(forms.ModelChoiceField):
    """The customer typed as its unified social credit code. A select of every visible customer
    would hold thousands of options; the code is what people have on the paperwork."""

    def to_python(self, value):
        return super().to_python(normalize_credit_code(value) if value else value)


class DealForm(forms.ModelForm):
    class Meta:
        model = Deal
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "proposed_limit": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "collateral_coverage": forms.NumberInput(attrs={"step": "0.1", "min": "0"}),
            "expected_close": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "purpose": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        creating = self.instance.pk is None
        if creating:
            self.fields["customer"] = CustomerByCreditCode(
                queryset=customers_for(user),
                to_field_name="credit_code",
                label=_("Customer's unified social credit code"),
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "font-monospace"}),
                error_messages={
                    "invalid_choice": _("No customer of yours has this credit code. Register the customer first.")
                },
                initial=customer.credit_code if customer else None,
            )
            self.order_fields(["customer"])
            del self.fields["probability"]  # set by the stage
            for name in TERMS_FIELDS:
                self.fields[name].help_text = _("Leave empty to start from the customer's tier policy.")
        self.fields["amount"].help_text = _("In yuan (CNY), e.g. 80000000.00")
        if not creating and self.instance.stage == Stage.APPROVED:
            # Shown, not posted: deal_update refuses a change to these (FROZEN_FIELDS) anyway.
            for name in FROZEN_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed at approval.")
        refuse_control_characters(self)  # a title is one line
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_expected_close(self):
        value = self.cleaned_data.get("expected_close")
        if value and self.instance.pk is None and value < timezone.localdate():
            raise forms.ValidationError(_("The expected close date cannot be in the past."))
        return value


class MoveForm(forms.Form):
    """A move as the user asked for it, naming the stage they saw the deal in."""

    to_stage = forms.ChoiceField(label=_("Move to"), choices=())
    seen_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    lost_reason = forms.ChoiceField(
        label=_("Why was it lost?"), choices=[("", "—"), *LostReason.choices], required=False
    )
    funded_amount = forms.DecimalField(
        label=_("Funded amount (CNY)"),
        max_digits=18,
        decimal_places=2,
        min_value=0,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    start_date = forms.DateField(
        label=_("Start date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    maturity_date = forms.DateField(
        label=_("Maturity date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(
        self,
        *args,
        deal: Deal,
        settings: dict[str, StageSetting],
        to_stage: str | None = None,
        seen_stage: str | None = None,
        **kwargs,
    ):
        kwargs["initial"] = {
            # The board's dialog names the stage its card showed; the deal page shows the current one.
            "seen_stage": seen_stage if seen_stage in Stage.values else deal.stage,
            "to_stage": to_stage or _next_stage(deal.stage),
            "funded_amount": deal.proposed_limit if deal.proposed_limit is not None else deal.amount,
            "start_date": timezone.localdate(),
        }
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [
            (s, settings[s].label if s in settings else Stage(s).label) for s in allowed_targets(deal.stage)
        ]
        refuse_control_characters(self)

    def clean(self):
        data = super().clean()
        to = data.get("to_stage")
        if to == Stage.LOST and not data.get("lost_reason"):
            self.add_error("lost_reason", _("Say why the deal was lost."))
        if to == Stage.FUNDED:
            if data.get("funded_amount") is None:
                self.add_error("funded_amount", _("Give the funded amount."))
            if data.get("start_date") is None:
                self.add_error("start_date", _("Give the start date."))
        return data


def _next_stage(stage: str) -> str | None:
    """The usual move: one layer forward (Approved → Funded)."""
    targets = allowed_targets(stage)
    forward = [s for s in targets if s != Stage.LOST and RANK[Stage(s)] > RANK[Stage(stage)]]
    return min(forward, key=lambda s: RANK[Stage(s)]) if forward else None


class ChecklistForm(forms.Form):
    item = forms.ModelChoiceField(queryset=ChecklistItem.objects.filter(is_active=True))
    done = forms.BooleanField(required=False)


class DocumentForm(forms.ModelForm):
    class Meta:
        model = DealDocument
        fields = ["kind", "title", "reference", "dated"]
        widgets = {"dated": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters(self)
        self.helper = FormHelper()
        self.helper.form_tag = False


class TextForm(forms.Form):
    """A form whose text fields refuse control characters (crm.validators)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters(self)


class ExceptionRequestForm(TextForm):
    reason = forms.CharField(
        label=_("Why are these terms justified?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ExceptionDecisionForm(TextForm):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)
