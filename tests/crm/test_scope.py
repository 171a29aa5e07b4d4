"""One value decides whose rows a user sees (crm.scope.Scope): the rows, the rollup level, the
label and the filter choices come from it, for each role."""

import pytest

from crm.models import Team
from crm.roles import Role
from crm.scope import Reach, Scope
from customers.access import can_edit_customer
from customers.models import Customer
from funnel.access import can_work_deal
from tests.factories import DealFactory, make_user

pytestmark = pytest.mark.django_db


def names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


def test_it_gives_each_role_its_rows(
    rm1, rm2, manager, risk_officer, admin_user, customer, other_customer, west_customer
):
    everyone = Customer.objects.all()
    assert names(Scope.of(rm1).rows(everyone)) == {customer.name}
    assert names(Scope.of(manager).rows(everyone)) == {customer.name, other_customer.name}
    assert names(Scope.of(risk_officer).rows(everyone)) == names(everyone)
    assert names(Scope.of(admin_user).rows(everyone)) == names(everyone)


def test_a_user_without_role_or_a_manager_without_team_sees_nothing(customer):
    nobody = make_user(None, username="nobody")
    drifting_manager = make_user(Role.TEAM_MANAGER, username="drifting")
    for user in (nobody, drifting_manager):
        scope = Scope.of(user)
        assert scope.reach == Reach.NONE
        assert not scope.rows(Customer.objects.all()).exists()
        assert scope.rollup(Customer.objects.all()) is None
        assert str(scope.label) == "No customers"


def test_it_labels_what_the_user_sees(rm1, manager, risk_officer, other_team):
    assert Scope.of(rm1).label == "Your customers"
    assert Scope.of(manager).label == "Customers of team East"
    assert Scope.of(risk_officer).label == "All customers"
    assert Scope.of(risk_officer).narrowed_to(other_team).label == "Customers of team West"


def test_a_chosen_team_narrows_the_firm_but_never_widens_a_team(
    manager, risk_officer, customer, west_customer, other_team
):
    assert names(Scope.of(risk_officer).narrowed_to(other_team).rows(Customer.objects.all())) == {west_customer.name}
    # A manager of East who picks West (a crafted query string) still sees East only.
    assert names(Scope.of(manager).narrowed_to(other_team).rows(Customer.objects.all())) == {customer.name}


def test_filter_choices_come_from_the_scope(rm1, rm2, rm_west, manager, risk_officer, team, other_team):
    assert set(Scope.of(risk_officer).owners()) == {rm1, rm2, rm_west}
    assert set(Scope.of(manager).owners()) == {rm1, rm2}
    assert not Scope.of(rm1).owners().exists()
    assert list(Scope.of(risk_officer).teams()) == [team, other_team]
    assert list(Scope.of(manager).teams()) == [team]
    assert list(Scope.of(rm1).teams()) == [team]


def test_people_are_those_who_work_the_scope(rm1, rm2, rm_west, manager, risk_officer, admin_user):
    west_manager = make_user(Role.TEAM_MANAGER, team=rm_west.team, username="west_manager")
    assert set(Scope.of(manager).people()) == {rm1, rm2, manager, risk_officer, admin_user}
    assert set(Scope.of(rm1).people()) == {rm1, manager, risk_officer, admin_user}
    assert west_manager in Scope.of(risk_officer).people()


def test_covers_decides_for_a_loaded_row(rm1, manager, customer, other_customer, west_customer):
    assert Scope.of(rm1).covers(customer)
    assert not Scope.of(rm1).covers(other_customer)
    assert Scope.of(manager).covers(other_customer)
    assert not Scope.of(manager).covers(west_customer)


def test_access_helpers_judge_the_object_they_are_given(rm1, manager, customer, other_customer, west_customer):
    """An object handed to a "may change" helper is checked against the user's scope, not
    ignored: a customer or deal outside it is never editable, whatever the caller fetched."""
    assert can_edit_customer(rm1, customer)
    assert not can_edit_customer(rm1, other_customer)
    assert can_edit_customer(manager, other_customer)
    assert not can_edit_customer(manager, west_customer)
    assert can_work_deal(rm1, DealFactory(customer=customer))
    assert not can_work_deal(rm1, DealFactory(customer=other_customer))


def test_the_scope_is_built_once_per_request(rm1, django_assert_num_queries):
    Scope.of(rm1)
    with django_assert_num_queries(0):
        Scope.of(rm1)


def test_team_scope_names_its_team(manager):
    assert Scope.of(manager).team_name == Team.objects.get(pk=manager.team_id).name
