import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import User
from crm.scope import Scope
from customers.models import Customer, CustomerStatus, Industry, Tier

# Each sort choice as a keyset order (crm.keyset): total (the id last), in the directions of the
# indexes that serve it (customers.models.Customer.Meta.indexes).
SORTS: dict[str, tuple[str, ...]] = {
    "": ("name", "id"),
    "-name": ("-name", "-id"),
    "-capital": ("-registered_capital", "-id"),
    "capital": ("registered_capital", "id"),
    # Tiers sort by rank (AA, A, B, Unrated), not alphabetically.
    "tier": ("tier_rank", "name", "id"),
    "-created": ("-created_at", "-id"),
}


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
            self.filters["owner"].queryset = scope.owner_choices()

    def sort_by(self, queryset, name, value):
        if value == "tier":
            queryset = queryset.with_tier_rank()
        return queryset.order_by(*SORTS[value])

    @property
    def order(self) -> tuple[str, ...]:
        """The chosen sort's order; name A–Z when none (or an unknown one) was chosen. Read it
        after ``qs``, which validates the form."""
        data = getattr(self.form, "cleaned_data", None) or {}
        return SORTS.get(data.get("sort") or "", SORTS[""])

    def filter_search(self, queryset, name, value):
        return queryset.search(value)
