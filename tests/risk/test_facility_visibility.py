"""Facilities carry their customer's owner and team (database triggers, migration risk/0017):
the copy decides who sees a facility — on the list, its page, the export and the repayment
import — so it must follow the customer by every route, and follow a facility moved to another
customer."""

import pytest
from django.db import connection
from django.http import Http404
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from crm.roles import Role
from crm.scope import Scope
from customers.models import Customer
from customers.services import customer_update
from risk.access import access_facility, facilities_for
from risk.models import Facility
from tests.factories import CustomerFactory, FacilityFactory, make_user
from tests.stateful import InSavepoint, machine_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def facility(customer):
    return FacilityFactory(customer=customer)


def test_an_inserted_facility_gets_its_customers_owner_and_team(facility, customer):
    facility.refresh_from_db()
    assert (facility.owner_id, facility.team_id) == (customer.owner_id, customer.team_id)


def test_each_role_sees_its_scope(facility, rm1, rm2, manager, rm_west, risk_officer, admin_user):
    for user in (rm1, manager, risk_officer, admin_user):
        assert list(facilities_for(user)) == [facility]
    for user in (rm2, rm_west):
        assert not facilities_for(user).exists()
        with pytest.raises(Http404):
            access_facility(user, facility.code)


def test_facilities_follow_the_customer_to_another_rm_and_team(facility, customer, rm1, manager, rm_west, admin_user):
    customer_update(customer=customer, by=admin_user, owner=rm_west)
    facility.refresh_from_db()
    assert (facility.owner_id, facility.team_id) == (rm_west.pk, rm_west.team_id)
    assert list(facilities_for(rm_west)) == [facility]
    assert not facilities_for(rm1).exists()
    assert not facilities_for(manager).exists()


def test_a_raw_update_of_the_customer_moves_its_facilities_too(facility, customer, rm2):
    # As a data fix or another system writing the table would: no Django in between.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET owner_id = %s WHERE id = %s", [rm2.pk, customer.pk])
    assert list(facilities_for(rm2)) == [facility]


def test_a_facility_moved_to_another_customer_takes_that_customers_owner(facility, west_customer, rm1, rm_west):
    Facility.objects.filter(pk=facility.pk).update(customer=west_customer)
    facility.refresh_from_db()
    assert (facility.owner_id, facility.team_id) == (west_customer.owner_id, west_customer.team_id)
    assert list(facilities_for(rm_west)) == [facility]
    assert not facilities_for(rm1).exists()


def test_other_customers_and_other_columns_leave_facilities_alone(facility, customer, other_customer, rm_west):
    Customer.objects.filter(pk=other_customer.pk).update(owner=rm_west, team=rm_west.team)
    Customer.objects.filter(pk=customer.pk).update(name="改名后的客户有限公司", tier="B")
    Facility.objects.filter(pk=facility.pk).update(drawn=facility.drawn / 2)
    facility.refresh_from_db()
    assert (facility.owner_id, facility.team_id) == (customer.owner_id, customer.team_id)


# --- As a property ---------------------------------------------------------------------------------
def expected_codes(user) -> set:
    """The codes of the facilities whose customer, as the customer table has it now, lies in the
    user's scope: worked out from the customers, never from the copy."""
    scope = Scope.of(user)
    customers = {c.pk: c for c in Customer.objects.only("owner_id", "team_id")}
    return {
        code
        for code, customer_id in Facility.objects.values_list("code", "customer_id")
        if scope.covers(customers[customer_id])
    }


class Visibility(InSavepoint):
    """Customers change hands by the service, a bulk UPDATE and raw SQL; facilities are opened
    and moved between customers. After every step each user sees exactly the facilities of the
    customers in their scope, and any other one is a 404."""

    def __init__(self, users, rms, customers):
        super().__init__()
        self.users, self.rms, self.customers = users, rms, customers

    def customer(self, i: int) -> Customer:
        return Customer.objects.get(pk=self.customers[i % len(self.customers)].pk)

    @rule(i=st.integers(0, 10), rm=st.integers(0, 10), route=st.sampled_from(["service", "bulk", "raw"]))
    def reassign(self, i, rm, route):
        customer, owner = self.customer(i), self.rms[rm % len(self.rms)]
        if route == "service":
            customer_update(customer=customer, by=self.users[-1], owner=owner)
        elif route == "bulk":
            Customer.objects.filter(pk=customer.pk).update(owner=owner, team=owner.team)
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE customers_customer SET owner_id = %s, team_id = %s WHERE id = %s",
                    [owner.pk, owner.team_id, customer.pk],
                )

    @rule(i=st.integers(0, 10), west=st.booleans())
    def change_team_only(self, i, west):
        # A customer handed to another team while its RM stays (a team split, say).
        team_id = self.rms[-1].team_id if west else self.rms[0].team_id
        Customer.objects.filter(pk=self.customer(i).pk).update(team_id=team_id)

    @rule(i=st.integers(0, 10))
    def open_facility(self, i):
        FacilityFactory(customer=self.customer(i))

    @rule(pick=st.integers(0, 10**6), i=st.integers(0, 10))
    def move_facility(self, pick, i):
        ids = list(Facility.objects.order_by("pk").values_list("pk", flat=True))
        if ids:
            Facility.objects.filter(pk=ids[pick % len(ids)]).update(customer=self.customer(i))

    @invariant()
    def each_user_sees_their_customers_facilities(self):
        for user in self.users:
            visible = set(facilities_for(user).values_list("code", flat=True))
            assert visible == expected_codes(user), user.username
            hidden = Facility.objects.exclude(code__in=visible).values_list("code", flat=True)[:1]
            for code in hidden:
                with pytest.raises(Http404):
                    access_facility(user, code)


def test_whoever_changes_hands_each_user_sees_exactly_their_customers_facilities(
    rm1, rm2, rm_west, manager, risk_officer, other_team
):
    west_manager = make_user(Role.TEAM_MANAGER, team=other_team, username="west_manager")
    users = [rm1, rm2, rm_west, manager, west_manager, risk_officer]
    customers = [CustomerFactory(owner=rm, team=rm.team) for rm in (rm1, rm2, rm_west)]
    for customer in customers:
        FacilityFactory(customer=customer)
    run_state_machine_as_test(
        lambda: Visibility(users, [rm1, rm2, rm_west], customers), settings=machine_settings(examples=25, steps=12)
    )
