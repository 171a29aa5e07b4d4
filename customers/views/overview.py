"""Portfolio overview pages: tiers (summary and migration matrix) and the data-quality list.

Both start from ``customers_for(request.user)``; the filters only narrow that set, and the
choices they offer (teams, owners) come from it too, so no page reveals anything outside the
user's scope. The filter form and filter set live here because only these two views use them."""

from datetime import date, timedelta
from decimal import Decimal

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from crm import keyset
from crm.models import Team, User
from crm.scope import Scope
from customers.access import customers_for
from customers.choices import Industry, Tier
from customers.models import Customer, TierPolicy
from customers.quality import customer_quality, needing_attention
from customers.regrade import active_scorecard
from customers.selectors.overview import NOT_GRADED, quality_counts, tier_summary, transition_matrix

PAGE_SIZE = 50
DEFAULT_PERIOD_DAYS = 90
ORDER = ("name", "id")  # the data-quality list: served by (owner, name), (team, name), (name, id)


class DayField(forms.DateField):
    """A date that names what it could not read: a browser's date picker shows an unreadable
    value as an empty field, so the message has to say what was typed."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            raise ValidationError(
                _("“%(value)s” is not a valid date. Use YYYY-MM-DD."), code="invalid", params={"value": value}
            ) from error


class TierOverviewForm(forms.Form):
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.none(), to_field_name="code", required=False, empty_label=_("All")
    )
    industry = forms.ChoiceField(label=_("Industry"), choices=[("", _("All")), *Industry.choices], required=False)
    start = DayField(label=_("From"))
    end = DayField(label=_("To"))

    def __init__(self, data, *, teams, today: date):
        super().__init__(data)
        self.fields["team"].queryset = teams
        self.today = today

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if end and end > self.today:
            self.add_error("end", _("The end date cannot be in the future."))
        elif start and end and start > end:
            self.add_error("end", _("The end date must be on or after the start date."))
        return cleaned


@require_GET
def tier_overview(request: HttpRequest) -> HttpResponse:
    visible = customers_for(request.user)
    today = timezone.localdate()
    # Empty dates mean the default period, so a bare link and a cleared field both work.
    data = request.GET.copy()
    if not data.get("start"):
        data["start"] = (today - timedelta(days=DEFAULT_PERIOD_DAYS)).isoformat()
    if not data.get("end"):
        data["end"] = today.isoformat()
    form = TierOverviewForm(data, teams=Scope.of(request.user).teams(), today=today)
    form.is_valid()

    summary = matrix = None
    # An invalid team or industry shows its error rather than silently widening to everything.
    if not form.errors.keys() & {"team", "industry"}:
        selected = visible
        if form.cleaned_data.get("team"):
            selected = selected.filter(team=form.cleaned_data["team"])
        if form.cleaned_data.get("industry"):
            selected = selected.filter(industry=form.cleaned_data["industry"])
        summary = tier_summary(selected)
        if form.is_valid():
            matrix = transition_matrix(selected, form.cleaned_data["start"], form.cleaned_data["end"])

    context = {"form": form, "summary": summary, "matrix": matrix, "today": today, "not_graded": NOT_GRADED}
    if summary is not None:
        context["total_customers"] = sum(row.customers for row in summary)
        context["total_exposure"] = sum((row.exposure for row in summary), Decimal("0"))
        context["chart"] = {
            "label": str(_("Exposure (CNY)")),
            "tiers": [row.tier for row in summary],
            "labels": [row.label for row in summary],
            "exposure": [str(row.exposure) for row in summary],
        }
    return render(request, "customers/tier_overview.html", context)


class DataQualityFilter(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        label=_("Team"), queryset=Team.objects.none(), to_field_name="code", empty_label=_("All")
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Relationship manager"), queryset=User.objects.none(), to_field_name="code", empty_label=_("All")
    )
    tier = django_filters.ChoiceFilter(label=_("Tier"), choices=Tier.choices, empty_label=_("All"))

    class Meta:
        model = Customer
        fields = ["team", "owner", "tier"]

    def __init__(self, data=None, queryset=None, *, request, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        scope = Scope.of(request.user)
        if scope.is_own:
            # An RM's list holds only their own customers: nothing to choose between.
            del self.filters["team"]
            del self.filters["owner"]
        else:
            # From the scope, never from scanning the customers: colleagues outside it never show.
            self.filters["team"].queryset = scope.teams()
            self.filters["owner"].queryset = scope.owner_choices()


@require_GET
def data_quality(request: HttpRequest) -> HttpResponse:
    """Customers needing attention, with what is missing or stale for each, on keyset pages by
    name (crm.keyset: no OFFSET, capped counts). The query count depends neither on the rows nor
    on the page: the details are computed in Python from the customer row itself."""
    visible = customers_for(request.user)
    filterset = DataQualityFilter(request.GET or None, queryset=visible, request=request)
    scorecard = active_scorecard()
    context = {"filter": filterset, "scorecard": scorecard, "rows": [], "counts": None, "page": None}
    if scorecard is not None:
        spec = scorecard.spec()
        policies = {p.tier: p for p in TierPolicy.objects.all()}
        today = timezone.localdate()
        needing = needing_attention(filterset.qs, spec=spec, policies=policies, today=today)
        counts = quality_counts(filterset.qs, spec=spec, policies=policies, today=today)
        listing = keyset.page_context(
            request,
            needing.select_related("owner", "team"),
            order=ORDER,
            size=PAGE_SIZE,
            counted=(counts.needing, counts.needing_capped),
        )
        context.update(listing)
        context["counts"] = counts
        context["rows"] = [
            (customer, customer_quality(customer, spec=spec, policies=policies, today=today))
            for customer in listing["page"].rows
        ]
    else:
        context["query"] = keyset.query_without_cursor(request)
    template = "customers/data_quality.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)
