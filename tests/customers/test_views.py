from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Activity, Contact, Customer
from tests.factories import ContactFactory, CustomerFactory, credit_code, customer_form_data

pytestmark = pytest.mark.django_db


form_data = customer_form_data


# --- create -----------------------------------------------------------------------------------
def test_rm_creates_customer_owned_by_themselves(client, rm1):
    client.force_login(rm1)
    response = client.post(reverse("customers:create"), form_data())
    customer = Customer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.code])
    assert customer.owner == rm1
    assert customer.team == rm1.team
    assert customer.registered_capital == Decimal("120000000.00")
    assert customer.tier == "unrated"


def test_credit_code_typed_in_lowercase_with_spaces_is_stored_canonically(client, rm1):
    client.force_login(rm1)
    code = credit_code(2)
    client.post(reverse("customers:create"), form_data(credit_code=f" {code[:9].lower()} {code[9:]} "))
    assert Customer.objects.get().credit_code == code


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("credit_code", "91350100M000100Y44", "check digit"),
        ("credit_code", "91350100M000100", "18 characters"),
        ("registered_capital", "-5", "cannot be negative"),
        ("registered_capital", "lots", "Enter a number"),
        ("name", "", "This field is required"),
        ("industry", "spaceflight", "Select a valid choice"),
    ],
)
def test_bad_input_shows_field_error_and_saves_nothing(client, rm1, field, value, message):
    client.force_login(rm1)
    response = client.post(reverse("customers:create"), form_data(**{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert "Nothing was saved" in response.content.decode()
    assert not Customer.objects.exists()


def test_duplicate_credit_code_is_a_field_error_that_names_no_one(client, rm1, other_customer):
    client.force_login(rm1)
    response = client.post(reverse("customers:create"), form_data(credit_code=other_customer.credit_code))
    assert response.status_code == 200
    assert "already registered" in " ".join(response.context["form"].errors["credit_code"])
    assert other_customer.name not in response.content.decode()
    assert Customer.objects.count() == 1


def test_rm_posting_owner_tier_score_or_team_changes_nothing(client, rm1, rm2, other_team):
    client.force_login(rm1)
    client.post(
        reverse("customers:create"),
        form_data(owner=rm2.code, tier="AA", score="99", team=other_team.pk),
    )
    customer = Customer.objects.get()
    assert (customer.owner, customer.team, customer.tier, customer.score) == (rm1, rm1.team, "unrated", None)

    client.post(
        reverse("customers:edit", args=[customer.code]),
        form_data(owner=rm2.code, tier="AA", score="99", team=other_team.pk, name="新名称有限公司"),
    )
    customer.refresh_from_db()
    assert customer.name == "新名称有限公司"
    assert (customer.owner, customer.team, customer.tier, customer.score) == (rm1, rm1.team, "unrated", None)


def test_manager_assigns_customer_to_team_rm(client, manager, rm2):
    client.force_login(manager)
    client.post(reverse("customers:create"), form_data(owner=rm2.pk))
    assert Customer.objects.get().owner == rm2


def test_manager_cannot_assign_outside_the_team(client, manager, rm_west):
    client.force_login(manager)
    response = client.post(reverse("customers:create"), form_data(owner=rm_west.pk))
    assert "owner" in response.context["form"].errors
    assert not Customer.objects.exists()


def test_create_rejects_risk_officer(client, risk_officer):
    client.force_login(risk_officer)
    assert client.post(reverse("customers:create"), form_data()).status_code == 403
    assert not Customer.objects.exists()


# --- edit -------------------------------------------------------------------------------------
def test_edit_records_history_with_old_and_new_values(client, rm1, customer):
    client.force_login(rm1)
    client.post(
        reverse("customers:edit", args=[customer.code]),
        form_data(credit_code=customer.credit_code, name=customer.name, registered_capital="75000000.00"),
    )
    page = client.get(reverse("customers:detail", args=[customer.code])).content.decode()
    history = page[page.index('data-testid="history"') :]
    assert "75000000.00" in history
    assert "50000000.00" in history
    assert str(rm1) in history


def test_edit_with_bad_input_keeps_the_stored_customer(client, rm1, customer):
    client.force_login(rm1)
    response = client.post(
        reverse("customers:edit", args=[customer.code]),
        form_data(credit_code=customer.credit_code, name="", registered_capital="-1"),
    )
    assert set(response.context["form"].errors) == {"name", "registered_capital"}
    customer.refresh_from_db()
    assert customer.name == "华东光伏电站项目有限公司"
    assert customer.history.count() == 1


def test_saving_unchanged_form_writes_no_history(client, rm1, customer):
    client.force_login(rm1)
    data = form_data(
        name=customer.name,
        credit_code=customer.credit_code,
        industry=customer.industry,
        registered_capital=customer.registered_capital,
        industry_position=customer.industry_position,
        credit_rating=customer.credit_rating,
        status=customer.status,
    )
    client.post(reverse("customers:edit", args=[customer.code]), data)
    assert customer.history.count() == 1


def test_manager_reassigns_owner_and_team_follows(client, manager, customer, rm2):
    client.force_login(manager)
    client.post(
        reverse("customers:edit", args=[customer.code]),
        form_data(name=customer.name, credit_code=customer.credit_code, owner=rm2.pk),
    )
    customer.refresh_from_db()
    assert customer.owner == rm2


# --- detail, contacts, notes ------------------------------------------------------------------
def test_detail_shows_profile_contacts_and_log(client, rm1, customer):
    ContactFactory(customer=customer, name="张伟", is_primary=True)
    Activity.objects.create(customer=customer, author=rm1, body="Site visit at the plant.")
    client.force_login(rm1)
    page = client.get(reverse("customers:detail", args=[customer.code])).content.decode()
    for text in (customer.name, customer.credit_code, "50,000,000.00", "张伟", "Site visit at the plant."):
        assert text in page


def test_detail_query_count_is_constant(client, rm1, customer, django_assert_max_num_queries):
    ContactFactory.create_batch(10, customer=customer)
    for i in range(20):
        Activity.objects.create(customer=customer, author=rm1, body=f"note {i}")
        customer.registered_capital += 1
        customer.save()
    client.force_login(rm1)
    with django_assert_max_num_queries(26):
        client.get(reverse("customers:detail", args=[customer.code]))


def test_add_note(client, rm1, customer):
    client.force_login(rm1)
    response = client.post(
        reverse("customers:activity_create", args=[customer.code]), {"kind": "call", "body": "Called CFO."}
    )
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert (activity.author, activity.kind, activity.body) == (rm1, "call", "Called CFO.")


def test_empty_note_is_refused(client, rm1, customer):
    client.force_login(rm1)
    response = client.post(
        reverse("customers:activity_create", args=[customer.code]), {"kind": "note", "body": ""}, follow=True
    )
    assert "This field is required" in response.content.decode()
    assert not Activity.objects.exists()


def test_new_primary_contact_demotes_the_old_one(client, rm1, customer):
    old = ContactFactory(customer=customer, is_primary=True)
    client.force_login(rm1)
    client.post(
        reverse("customers:contact_create", args=[customer.code]),
        {"name": "李娜", "title": "CFO", "phone": "", "email": "", "is_primary": "on"},
    )
    old.refresh_from_db()
    assert not old.is_primary
    assert Contact.objects.get(is_primary=True).name == "李娜"


def test_contact_edit_and_delete(client, rm1, customer):
    contact = ContactFactory(customer=customer)
    client.force_login(rm1)
    client.post(
        reverse("customers:contact_edit", args=[customer.code, contact.code]),
        {"name": "王芳", "title": "CEO", "phone": "", "email": "bad"},
    )
    contact.refresh_from_db()
    assert contact.name != "王芳"  # invalid e-mail: nothing saved
    client.post(reverse("customers:contact_delete", args=[customer.code, contact.code]))
    assert not Contact.objects.exists()


def test_contact_of_another_customer_is_404(client, rm1, customer, other_customer):
    foreign = ContactFactory(customer=other_customer)
    client.force_login(rm1)
    url = reverse("customers:contact_edit", args=[customer.code, foreign.code])
    assert client.get(url).status_code == 404


def test_state_changing_views_reject_get(client, rm1, customer):
    contact = ContactFactory(customer=customer)
    client.force_login(rm1)
    assert client.get(reverse("customers:activity_create", args=[customer.code])).status_code == 405
    assert client.get(reverse("customers:contact_delete", args=[customer.code, contact.code])).status_code == 405
    assert Contact.objects.exists()


def test_list_filters_search_and_sort(client, manager, rm1, rm2):
    CustomerFactory(owner=rm1, team=rm1.team, name="甲电力有限公司", industry="energy", registered_capital=1)
    CustomerFactory(owner=rm2, team=rm2.team, name="乙水务有限公司", industry="water", registered_capital=9)
    client.force_login(manager)

    def names(**params):
        return [c.name for c in client.get(reverse("customers:list"), params).context["page"].rows]

    assert names(industry="water") == ["乙水务有限公司"]
    assert names(owner=rm1.code) == ["甲电力有限公司"]
    assert names(q="水务") == ["乙水务有限公司"]
    assert names(sort="-capital") == ["乙水务有限公司", "甲电力有限公司"]
    assert names(sort="capital") == ["甲电力有限公司", "乙水务有限公司"]
    assert names(sort="-name") == names()[::-1]


def test_tier_sort_puts_best_tier_first(client, rm1):
    for tier in ("B", "unrated", "AA", "A"):
        CustomerFactory(owner=rm1, team=rm1.team, tier=tier, name=f"{tier}公司")
    client.force_login(rm1)
    page = client.get(reverse("customers:list"), {"sort": "tier"}).context["page"]
    assert [c.tier for c in page.rows] == ["AA", "A", "B", "unrated"]


def test_list_paginates(client, rm1):
    CustomerFactory.create_batch(55, owner=rm1, team=rm1.team)
    client.force_login(rm1)
    first = client.get(reverse("customers:list")).context["page"]
    assert len(first.rows) == 50 and first.has_older
    second = client.get(reverse("customers:list"), {"after": str(first.oldest.code)})
    assert len(second.context["page"].rows) == 5


def test_htmx_request_gets_only_the_results_fragment(client, rm1, customer):
    client.force_login(rm1)
    response = client.get(reverse("customers:list"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert customer.name in html
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="results"')


def test_detail_of_a_customer_without_history_rows(client, rm1, customer):
    customer.history.all().delete()  # e.g. loaded by a bulk import before history existed
    client.force_login(rm1)
    response = client.get(reverse("customers:detail", args=[customer.code]))
    assert response.status_code == 200
    assert "No changes recorded." in response.content.decode()


def test_editing_a_graded_input_regrades_the_customer(client, rm1, graded_customer):
    from customers.models import Grade
    from customers.regrade import regrade

    regrade(reason="scheduled")
    graded_customer.refresh_from_db()
    before = graded_customer.score
    client.force_login(rm1)
    client.post(
        reverse("customers:edit", args=[graded_customer.code]),
        form_data(
            name=graded_customer.name,
            credit_code=graded_customer.credit_code,
            registered_capital="1000000",  # far smaller: fewer qualification points
            industry_position="marginal",
        ),
    )
    graded_customer.refresh_from_db()
    assert graded_customer.score < before
    assert Grade.objects.filter(customer=graded_customer, reason="data_changed").exists()


def test_a_new_customer_is_graded_at_once_and_unrated(client, rm1):
    client.force_login(rm1)
    client.post(reverse("customers:create"), form_data())
    customer = Customer.objects.get()
    assert customer.tier == "unrated"
    assert customer.breakdown["registered_capital"] is not None
    assert customer.next_review_date is not None
