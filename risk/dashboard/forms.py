"""The dashboard's GET form: the baseline period of the KPIs and, for those who see every team,
a team to narrow the page to."""

import re
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import Team

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthField(forms.CharField):
    """A calendar month typed as YYYY-MM (what ``<input type="month">`` sends), cleaned to the
    first day of the month."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value) -> date | None:
        value = super().to_python(value)
        if not value:
            return None
        match = _MONTH.match(value)
        if match:
            year, month = int(match[1]), int(match[2])
            if 1 <= month <= 12 and year >= 1:
                return date(year, month, 1)
        raise ValidationError(
            _("“%(value)s” is not a month. Use YYYY-MM, e.g. 2026-01."), code="invalid", params={"value": value}
        )


class DashboardForm(forms.Form):
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.none(), to_field_name="code", required=False, empty_label=_("All")
    )
    baseline_from = MonthField(label=_("Baseline from"), required=False)
    baseline_to = MonthField(label=_("Baseline to"), required=False)

    def __init__(self, data, *, teams, first: date, last: date):
        """``teams``: the teams the user may narrow to (None: no team field); ``first`` and
        ``last``: the months the figures are kept for, which bound the baseline."""
        super().__init__(data)
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].queryset = teams
        self.first, self.last = first, last

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("baseline_from"), cleaned.get("baseline_to")
        if "baseline_from" in self.errors or "baseline_to" in self.errors:
            return cleaned
        if (start is None) != (end is None):
            self.add_error(None, _("Give both months of the baseline, or neither for the default."))
            return cleaned
        if start is None:
            return cleaned
        bounds = {"first": f"{self.first:%Y-%m}", "last": f"{self.last:%Y-%m}"}
        for name, month in (("baseline_from", start), ("baseline_to", end)):
            if not self.first <= month <= self.last:
                self.add_error(name, _("Pick a month from %(first)s to %(last)s.") % bounds)
        if start > end and not self.errors:
            self.add_error("baseline_to", _("The last month must not be before the first."))
        return cleaned

    @property
    def baseline(self) -> tuple[date, date] | None:
        """The picked baseline; None for the default (nothing picked, or a bad pick: the page
        shows the error beside the default figures rather than failing)."""
        errors = self.errors  # validates once
        if errors.get("__all__") or "baseline_from" in errors or "baseline_to" in errors:
            return None
        start, end = self.cleaned_data.get("baseline_from"), self.cleaned_data.get("baseline_to")
        return (start, end) if start and end else None

    @property
    def chosen_team(self) -> Team | None:
        if "team" not in self.fields or "team" in self.errors:
            return None
        return self.cleaned_data.get("team")
