from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from crm.models import User
from crm.roles import Role, role_of
from customers.credit_code import validate_credit_code
from customers.management.commands.seed_demo import DEMO_PASSWORD
from customers.models import Customer

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_valid(rf):
    call_command("seed_demo", customers=40, stdout=StringIO())
    names = dict(Customer.objects.values_list("credit_code", "name"))
    edited = Customer.objects.first()
    edited.name = "已编辑的客户有限公司"
    edited.save()

    call_command("seed_demo", customers=40, stdout=StringIO())
    assert Customer.objects.count() == 40
    assert Customer.objects.get(pk=edited.pk).name == "已编辑的客户有限公司"  # not overwritten

    call_command("seed_demo", customers=50, stdout=StringIO())
    assert Customer.objects.count() == 50
    for code in names:
        validate_credit_code(code)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names.values())


def test_demo_users_have_their_roles_and_password(rf):
    call_command("seed_demo", customers=5, stdout=StringIO())
    expected = {
        "admin": Role.ADMIN,
        "manager": Role.TEAM_MANAGER,
        "risk": Role.RISK_OFFICER,
        "rm1": Role.RELATIONSHIP_MANAGER,
        "rm2": Role.RELATIONSHIP_MANAGER,
    }
    for username, role in expected.items():
        user = authenticate(rf.post("/"), username=username, password=DEMO_PASSWORD)
        assert user is not None, username
        assert role_of(User.objects.get(pk=user.pk)) == role
    rm1, rm2, manager = (User.objects.get(username=u) for u in ("rm1", "rm2", "manager"))
    assert rm1.team == rm2.team == manager.team
