from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from crm.access import assignable_owners
from crm.roles import Role, role_of
from customers.credit_code import normalize_credit_code
from customers.models import Activity, Contact, Customer
from customers.services import EDITABLE_FIELDS


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
        self.helper = FormHelper()
        self.helper.form_tag = False


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "title", "phone", "email", "is_primary"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["kind", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
