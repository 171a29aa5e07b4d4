"""Who sees which customer: owner, teammate, team manager, other team, risk, admin."""

import pytest
from django.urls import reverse

from customers.access import customers_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_rm_sees_only_own_customers(rm1, customer, other_customer, west_customer):
    assert list(customers_for(rm1)) == [customer]


def test_team_manager_sees_the_team_not_other_teams(manager, customer, other_customer, west_customer):
    assert set(customers_for(manager)) == {customer, other_customer}


def test_risk_officer_and_admin_see_everyone(risk_officer, admin_user, customer, other_customer, west_customer):
    everyone = {customer, other_customer, west_customer}
    assert set(customers_for(risk_officer)) == everyone
    assert set(customers_for(admin_user)) == everyone


def test_user_without_role_sees_nothing(db, customer):
    from tests.factories import UserFactory

    assert not customers_for(UserFactory()).exists()


def test_team_manager_without_team_sees_nothing(db, customer):
    from crm.roles import Role
    from tests.factories import make_user

    assert not customers_for(make_user(Role.TEAM_MANAGER, team=None)).exists()


def test_rm_cannot_open_other_rms_customer(client, rm1, other_customer):
    client.force_login(rm1)
    for name in ("customers:detail", "customers:edit", "customers:contact_create"):
        assert client.get(reverse(name, args=[other_customer.code])).status_code == 404


def test_missing_and_forbidden_look_the_same(client, rm1, other_customer):
    import uuid

    client.force_login(rm1)
    forbidden = client.get(reverse("customers:detail", args=[other_customer.code]))
    missing = client.get(reverse("customers:detail", args=[uuid.uuid4()]))
    assert forbidden.status_code == missing.status_code == 404
    assert other_customer.name not in forbidden.content.decode()
    assert forbidden.templates[0].name == missing.templates[0].name == "404.html"


def test_list_and_search_never_show_other_rms_customer(client, rm1, customer, other_customer):
    client.force_login(rm1)
    listing = client.get(reverse("customers:list")).content.decode()
    assert customer.name in listing
    assert other_customer.name not in listing
    for query in (other_customer.name, other_customer.credit_code, other_customer.credit_code.lower()):
        # The results fragment (the search box itself echoes the query back).
        found = client.get(reverse("customers:list"), {"q": query}, headers={"HX-Request": "true"})
        found = found.content.decode()
        assert other_customer.name not in found
        assert "0 customers" in found


def test_owner_filter_does_not_list_colleagues_outside_scope(client, manager, customer, west_customer):
    client.force_login(manager)
    page = client.get(reverse("customers:list")).content.decode()
    assert str(customer.owner) in page
    assert str(west_customer.owner) not in page


def test_rm_list_has_no_owner_filter(client, rm1, customer):
    client.force_login(rm1)
    page = client.get(reverse("customers:list")).content.decode()
    assert 'name="owner"' not in page


def test_risk_officer_may_read_but_not_edit(client, risk_officer, customer):
    client.force_login(risk_officer)
    assert client.get(reverse("customers:detail", args=[customer.code])).status_code == 200
    assert client.get(reverse("customers:edit", args=[customer.code])).status_code == 403
    assert client.get(reverse("customers:create")).status_code == 403


def test_team_manager_can_edit_team_customer(client, manager, other_customer):
    client.force_login(manager)
    assert client.get(reverse("customers:edit", args=[other_customer.code])).status_code == 200


def test_anonymous_is_sent_to_login(client, customer):
    for url in (reverse("customers:list"), reverse("customers:detail", args=[customer.code])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_list_query_count_does_not_grow_with_rows(client, manager, rm1, django_assert_max_num_queries):
    # More than a page each time: a list that fits on one is counted by its rows, a query less.
    CustomerFactory.create_batch(55, owner=rm1, team=rm1.team)
    client.force_login(manager)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("customers:list"))
    CustomerFactory.create_batch(60, owner=rm1, team=rm1.team)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("customers:list"))
    assert response.context["count"] == 115
