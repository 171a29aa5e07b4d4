import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.models import Team, User
from crm.scope import Scope
from customers.models import Tier
from funnel.models import ProjectType, Stage


class DealFilter(django_filters.FilterSet):
    """The filters of the board and the deal list. Choice lists come from the user's scope
    (their team's managers, all teams only for those who see everything), never from a scan
    of the deals, so they cost nothing at two million deals and reveal nobody outside it."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": _("Deal or customer"), "type": "search"}),
    )
    # From a customer's page: that customer's deals (scoping still applies: the queryset is
    # already limited to what the user may see).
    customer = django_filters.UUIDFilter(field_name="customer__code", widget=forms.HiddenInput)
    stage = django_filters.ChoiceFilter(label=_("Stage"), choices=Stage.choices, empty_label=_("All"))
    owner = django_filters.ModelChoiceFilter(
        label=_("Relationship manager"), queryset=User.objects.none(), to_field_name="code", empty_label=_("All")
    )
    team = django_filters.ModelChoiceFilter(
        label=_("Team"),
        queryset=Team.objects.all(),
        to_field_name="code",
        field_name="customer__team",
        empty_label=_("All"),
    )
    tier = django_filters.ChoiceFilter(
        label=_("Tier"), choices=Tier.choices, field_name="customer__tier", empty_label=_("All")
    )
    project_type = django_filters.ChoiceFilter(
        label=_("Project type"), choices=ProjectType.choices, empty_label=_("All")
    )
    amount_min = django_filters.NumberFilter(
        label=_("Amount from (CNY)"), field_name="amount", lookup_expr="gte", min_value=0
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount to (CNY)"), field_name="amount", lookup_expr="lte", min_value=0
    )
    close_from = django_filters.DateFilter(
        label=_("Expected close from"),
        field_name="expected_close",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    close_to = django_filters.DateFilter(
        label=_("Expected close to"),
        field_name="expected_close",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    # The board has a column per stage and no free-text search box.
    BOARD_FIELDS = ("owner", "team", "tier", "amount_min", "amount_max", "close_from", "close_to")

    def __init__(self, data=None, queryset=None, *, request, board: bool = False, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        scope = Scope.of(request.user)
        if board:
            for name in list(self.filters):
                if name not in self.BOARD_FIELDS:
                    del self.filters[name]
        # Choices come from the scope: a manager picks among the team's RMs, an RM has nothing
        # to choose (their own customers' deals only).
        if not scope.sees_all:
            del self.filters["team"]
        if scope.is_own:
            del self.filters["owner"]
        else:
            self.filters["owner"].queryset = scope.owner_choices()

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(customer__name__icontains=value))
