import django_filters
from django import forms
from django.db.models import Case, When
from django.utils.translation import gettext_lazy as _

from crm.models import User
from crm.scope import Scope
from customers.models import Customer, CustomerStatus, Industry, Tier


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": _("Name or credit code"), "type": "search"}),
    )
    industry = django_filters.ChoiceFilter(label=_("Industry"), choices=Industry.choices, empty_label=_("All"))
    tier = django_filters.ChoiceFilter(label=_("Tier"), choices=Tier.choices, empty_label=_("All"))
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CustomerStatus.choices, empty_label=_("All"))
    owner = django_filters.ModelChoiceFilter(
        label=_("Relationship manager"),
        queryset=User.objects.none(),
        to_field_name="code",
        empty_label=_("All"),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        empty_label=_("Name (A–Z)"),
        choices=[
            ("-name", _("Name (Z–A)")),
            ("-capital", _("Registered capital, largest first")),
            ("capital", _("Registered capital, smallest first")),
            ("tier", _("Tier, best first")),
            ("-created", _("Newest first")),
        ],
        method="sort_by",
    )

    class Meta:
        model = Customer
        fields = ["q", "industry", "tier", "status", "owner"]

    def __init__(self, data=None, queryset=None, *, request, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        scope = Scope.of(request.user)
        if scope.is_own:
            del self.filters["owner"]  # an RM's list holds only their own customers
        else:
            # The RMs of the user's scope: never colleagues outside it, and never a scan of the
            # customers to find out who owns some.
            self.filters["owner"].queryset = scope.owners()

    def sort_by(self, queryset, name, value):
        # Tiers sort by rank (AA, A, B, Unrated), not alphabetically; the id breaks ties so that
        # pages never repeat or skip a row.
        tier_rank = Case(*(When(tier=t, then=i) for i, t in enumerate(Tier.values)))
        orderings = {
            "-name": ["-name", "-id"],
            "-capital": ["-registered_capital", "id"],
            "capital": ["registered_capital", "id"],
            "tier": [tier_rank, "name", "id"],
            "-created": ["-created_at", "-id"],
        }
        return queryset.order_by(*orderings[value])

    def filter_search(self, queryset, name, value):
        return queryset.search(value)
