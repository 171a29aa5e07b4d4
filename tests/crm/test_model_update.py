import pytest

from crm.models import User
from crm.services import fields_changed, model_update


def test_model_update_sets_only_the_changed_allowed_fields_and_names_them():
    user = User(username="rm", first_name="Li", last_name="Wei", email="li@example.com")
    changed = model_update(
        instance=user,
        fields=("first_name", "last_name", "email"),
        data={"first_name": "Li", "last_name": "Na", "email": "na@example.com", "is_superuser": True},
    )
    assert changed == ["last_name", "email"]  # in the order of ``fields``; first_name is unchanged
    assert (user.last_name, user.email) == ("Na", "na@example.com")
    assert user.is_superuser is False  # a key outside ``fields`` never reaches the model


def test_model_update_with_nothing_different_changes_nothing():
    user = User(username="rm", first_name="Li")
    assert model_update(instance=user, fields=("first_name", "last_name"), data={"first_name": "Li"}) == []
    assert user.first_name == "Li"


def test_fields_changed_only_reports_and_leaves_the_instance_as_it_was():
    user = User(username="rm", first_name="Li")
    assert fields_changed(instance=user, fields=("first_name",), data={"first_name": "Na"}) == ["first_name"]
    assert user.first_name == "Li"


@pytest.mark.django_db
def test_model_update_leaves_the_write_to_the_caller(rm1):
    # The services save once, in their own transaction, with the names returned plus their own.
    model_update(instance=rm1, fields=("first_name",), data={"first_name": "Changed"})
    assert User.objects.get(pk=rm1.pk).first_name != "Changed"
