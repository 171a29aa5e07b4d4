from datetime import datetime, time, timedelta

from crispy_forms.helper import FormHelper
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.roles import Role, role_of
from crm.validators import refuse_control_characters
from customers.access import assignable_owners
from customers.credit_code import normalize_credit_code
from customers.fields import EDITABLE_FIELDS, SOURCE_FIELDS
from customers.models import Activity, Contact, Customer, DataSource, Tier
from customers.services.intake import SOURCE_MODELS


class CreditCodeField(forms.CharField):
    """Accepts what people paste (spaces, lower case) and keeps the canonical form."""

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_credit_code(value) if value else value


class CustomerForm(forms.ModelForm):
    """The fields a person may set. ``tier``, ``score`` and ``team`` are never fields here; the
    owner is a field only for managers and admins, limited to whom they may assign."""

    class Meta:
        model = Customer
        fields = list(EDITABLE_FIELDS)
        field_classes = {"credit_code": CreditCodeField}
        widgets = {
            "registered_capital": forms.NumberInput(attrs={"step": "0.01"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credit_code"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "class": "font-monospace"}
        )
        self.fields["credit_code"].help_text = _(
            "18 characters, e.g. 91310000MA1FL5LX3K. The last one is a check digit."
        )
        self.fields["registered_capital"].help_text = _("In yuan (CNY), e.g. 50000000.00")
        if role_of(user) in (Role.ADMIN, Role.TEAM_MANAGER):
            self.fields["owner"] = forms.ModelChoiceField(
                queryset=assignable_owners(user),
                label=_("relationship manager"),
                initial=self.instance.owner_id if self.instance.pk else None,
            )
        refuse_control_characters(self)  # a name with "\r\nBcc:" breaks the e-mail that names it
        self.helper = FormHelper()
        self.helper.form_tag = False


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "title", "phone", "email", "is_primary"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters(self)
        self.helper = FormHelper()
        self.helper.form_tag = False


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["kind", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters(self)
        self.helper = FormHelper()
        self.helper.form_tag = False


class DateInput(forms.DateInput):
    input_type = "date"


class SourceForm(forms.ModelForm):
    field_order = ["as_of", "source"]  # where the figures came from, right after their date

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # File imports set "import" themselves; a person picks where the figures came from.
        self.fields["source"].choices = [c for c in DataSource.choices if c[0] != DataSource.IMPORT]
        for field in self.fields.values():
            if isinstance(field, forms.DecimalField):
                field.widget.attrs.setdefault("step", "0.01")
        refuse_control_characters(self)
        self.helper = FormHelper()
        self.helper.form_tag = False


def source_form_class(kind: str) -> type[forms.ModelForm]:
    """A ModelForm for one kind of data source: the fields its import also takes
    (``customers.fields.SOURCE_FIELDS``) and where the figures came from."""
    return forms.modelform_factory(
        SOURCE_MODELS[kind],
        form=SourceForm,
        fields=[*SOURCE_FIELDS[kind], "source"],
        widgets={"as_of": DateInput()},
    )


class OverrideForm(forms.Form):
    tier = forms.ChoiceField(label=_("Tier"), choices=[(t.value, t.label) for t in (Tier.AA, Tier.A, Tier.B)])
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    expires_on = forms.DateField(
        label=_("Valid until (inclusive)"), widget=DateInput(), help_text=_("At most one year ahead.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters(self)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_expires_on(self):
        value = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if value < today:
            raise forms.ValidationError(_("The date must not be in the past."))
        if value > today + timedelta(days=366):
            raise forms.ValidationError(_("An override may last at most one year."))
        return value

    def expires_at(self):
        """The end of the chosen day in the local time zone, as an aware datetime."""
        day = self.cleaned_data["expires_on"] + timedelta(days=1)
        return timezone.make_aware(datetime.combine(day, time.min))
