import datetime

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.models import Team
from crm.scope import Scope
from customers.models import Customer, Tier
from risk.models import UNRESOLVED, AlertRule, AlertSeverity, AlertStatus
from risk.selectors import overdue_split

# The status filter's own values beside the statuses: what the list shows by default, and all.
UNRESOLVED_CHOICE = "unresolved"
ALL_CHOICE = "all"
STATUS_CHOICES = [
    (UNRESOLVED_CHOICE, _("Unresolved")),
    *AlertStatus.choices,
    (ALL_CHOICE, _("All")),
]
ME, UNASSIGNED = "me", "unassigned"


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class AlertFilter(django_filters.FilterSet):
    """The filters of the alert list. As in funnel.filters.DealFilter, the choice lists come
    from the user's scope (teams only for those who see every team, assignees among the people
    who could work the user's alerts), never from a scan of the alerts."""

    severity = django_filters.ChoiceFilter(label=_("Severity"), choices=AlertSeverity.choices, empty_label=_("All"))
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=STATUS_CHOICES,
        empty_label=None,
        initial=UNRESOLVED_CHOICE,
        method="filter_status",
    )
    # AlertRule has no public code; rules are admin configuration every user may list, not data
    # about customers, so their id in the query string reveals nothing.
    # The options read AlertRule.__str__, the rule's name in the active language.
    rule = django_filters.ModelChoiceFilter(
        label=_("Rule"), queryset=AlertRule.objects.order_by("name", "id"), empty_label=_("All")
    )
    tier = django_filters.ChoiceFilter(
        label=_("Tier"), choices=Tier.choices, field_name="customer__tier", empty_label=_("All")
    )
    team = django_filters.ModelChoiceFilter(
        label=_("Team"),
        queryset=Team.objects.all(),
        to_field_name="code",
        field_name="team",
        empty_label=_("All"),
    )
    assignee = django_filters.ChoiceFilter(
        label=_("Assignee"), choices=[], empty_label=_("Anyone"), method="filter_assignee"
    )
    opened_from = django_filters.DateFilter(
        label=_("Opened from"), method="filter_opened_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    opened_to = django_filters.DateFilter(
        label=_("Opened to"), method="filter_opened_to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data=None, queryset=None, *, request, **kwargs):
        # Unresolved unless asked otherwise: what needs doing, not the whole history.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if data.get("status") not in dict(STATUS_CHOICES):
            data["status"] = UNRESOLVED_CHOICE
        super().__init__(data, queryset, request=request, **kwargs)
        self.user = request.user
        if not Scope.of(self.user).sees_all:
            del self.filters["team"]  # a manager sees one team, an RM their own customers
        self.filters["assignee"].extra["choices"] = [
            (ME, _("Me")),
            (UNASSIGNED, _("Unassigned")),
            *[(str(code), name) for code, name in _assignee_choices(self.user)],
        ]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ALL_CHOICE:
            return queryset
        if value == UNRESOLVED_CHOICE:
            return queryset.filter(status__in=UNRESOLVED)
        return queryset.filter(status=value)

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ME:
            return queryset.filter(assignee=self.user)
        if value == UNASSIGNED:
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee__code=value)

    # Local days as ranges of the stored UTC instants, so the (status, opened_at) index applies;
    # a __date lookup would convert every row's timestamp instead.
    def filter_opened_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(opened_at__gte=_local_midnight(value))

    def filter_opened_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(opened_at__lt=_local_midnight(value + datetime.timedelta(days=1)))


def _assignee_choices(user) -> list[tuple]:
    """(code, name) of the people who could be assigned the alerts this user sees: the same
    roles as risk.access.alert_assignees, over the user's whole scope instead of one customer."""
    people = Scope.of(user).people().exclude(pk=user.pk).order_by("first_name", "last_name", "username")
    return [(p.code, str(p)) for p in people.only("code", "first_name", "last_name", "username")]


# --- Facilities ------------------------------------------------------------------------------------
YES, NO = "yes", "no"
MATURITY_CHOICES = [
    ("30", _("Within 30 days")),
    ("90", _("Within 90 days")),
    ("365", _("Within a year")),
    ("past", _("Already matured")),
]


class FacilityFilter(django_filters.FilterSet):
    """The filters of the facility list, over ``risk.selectors.facility_pages.for_list`` (which
    annotates today's overdue figures). As in AlertFilter, the team choice is offered only to
    those who see every team; everything else narrows what the scope already allows."""

    q = django_filters.CharFilter(
        label=_("Customer"),
        method="filter_customer",
        widget=forms.TextInput(attrs={"placeholder": _("Name or credit code"), "type": "search"}),
    )
    tier = django_filters.ChoiceFilter(
        label=_("Tier"), choices=Tier.choices, field_name="customer__tier", empty_label=_("All")
    )
    team = django_filters.ModelChoiceFilter(
        label=_("Team"),
        queryset=Team.objects.all(),
        to_field_name="code",
        field_name="team",  # the facility's copy of its customer's team (migration risk/0017)
        empty_label=_("All"),
    )
    overdue = django_filters.ChoiceFilter(
        label=pgettext_lazy("facility filter", "Overdue"),
        choices=[(YES, pgettext_lazy("facility filter", "Overdue")), (NO, _("Not overdue"))],
        empty_label=_("All"),
        method="filter_overdue",
    )
    matures = django_filters.ChoiceFilter(
        label=_("Maturity"), choices=MATURITY_CHOICES, empty_label=_("Any time"), method="filter_matures"
    )
    maturity_from = django_filters.DateFilter(
        label=_("Matures from"),
        field_name="maturity_date",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    maturity_to = django_filters.DateFilter(
        label=_("Matures to"),
        field_name="maturity_date",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, data=None, queryset=None, *, request, today: datetime.date, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        self.today = today
        if not Scope.of(request.user).sees_all:
            del self.filters["team"]

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The customer list's own search (name, or the start of the credit code), for a list in
        # date order: a name common in one place of the alphabet ("Tianrun") is tested facility
        # by facility, not looked up for every customer that has it.
        return (
            queryset.filter(customer__in=Customer.objects.search(value, by_name=False)) if value.strip() else queryset
        )

    def filter_overdue(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The alert rule's "more than 0 days overdue" (risk.selectors.overdue_split).
        overdue, covered = overdue_split(0, today=self.today)
        return queryset.filter(overdue if value == YES else covered)

    def filter_matures(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "past":
            return queryset.filter(maturity_date__lt=self.today)
        end = self.today + datetime.timedelta(days=int(value))
        return queryset.filter(maturity_date__gte=self.today, maturity_date__lte=end)
