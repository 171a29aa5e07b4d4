from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from crm.models import Team, User
from crm.roles import Role
from customers.credit_code import ALPHABET, make_credit_code
from customers.models import Activity, Contact, Customer, Industry, IndustryPosition

PASSWORD = "correct horse battery staple"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)
    team = None


def make_user(role: Role | None, *, team=None, **kwargs) -> User:
    user = UserFactory(team=team, **kwargs)
    if role is not None:
        # get_or_create: transactional tests flush the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    if role == Role.ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


def credit_code(n: int) -> str:
    body = "91310000" + "".join(ALPHABET[(n // 31**k) % 31] for k in range(9))[::-1]
    return make_credit_code(body)


def customer_form_data(**overrides) -> dict:
    """What the new-customer form posts for a valid customer, with ``overrides``."""
    data = {
        "name": "宁波港口扩建项目有限公司",
        "credit_code": credit_code(1),
        "industry": "transport",
        "registered_capital": "120000000.00",
        "industry_position": "leader",
        "credit_rating": "AA",
        "status": "prospect",
    }
    return {**data, **overrides}


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"测试项目公司{n}有限公司")
    credit_code = factory.Sequence(lambda n: credit_code(n + 1000))
    industry = Industry.ENERGY
    registered_capital = Decimal("50000000.00")
    industry_position = IndustryPosition.MAJOR
    credit_rating = "AA"
    owner = factory.SubFactory(UserFactory)
    team = factory.LazyAttribute(lambda c: c.owner.team or TeamFactory())


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"联系人{n}")
    title = "CFO"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    customer = factory.SubFactory(CustomerFactory)
    author = factory.LazyAttribute(lambda a: a.customer.owner)
    body = "Met the CFO."


def ensure_shipped_data() -> None:
    """Re-create what data migrations ship (roles, default scorecard, tier policies, stage
    settings, alert rules and beat schedules) when a flushed transactional test left the
    database empty."""
    import importlib

    from django.apps import apps as global_apps

    from customers.models import Scorecard

    for name in Role:
        Group.objects.get_or_create(name=name.value)
    # Who may decide terms exceptions (idempotent).
    importlib.import_module("funnel.migrations.0006_decide_exception_permission").grant(global_apps, None)
    if not Scorecard.objects.exists():
        importlib.import_module("customers.migrations.0003_default_scorecard").create(global_apps, None)
    from funnel.models import StageSetting

    if not StageSetting.objects.exists():
        importlib.import_module("funnel.migrations.0002_defaults").create(global_apps, None)
    from risk.models import AlertRule

    if not AlertRule.objects.exists():
        importlib.import_module("risk.migrations.0005_defaults").create(global_apps, None)


class DealFactory(factory.django.DjangoModelFactory):
    """A deal in Prospect identified with terms inside the shipped tier-A policy. Creating it
    this way skips the timeline's first entry; use funnel.services.deal_create for that."""

    class Meta:
        model = "funnel.Deal"

    customer = factory.SubFactory(CustomerFactory)
    title = factory.Sequence(lambda n: f"光伏电站二期融资 {n}")
    project_type = "renewable"
    amount = Decimal("80000000.00")
    owner = factory.LazyAttribute(lambda d: d.customer.owner)
    team = factory.LazyAttribute(lambda d: d.customer.team)
    created_by = factory.LazyAttribute(lambda d: d.customer.owner)
    stage = "prospect"
    probability = 10
    spread_bps = 150
    collateral_coverage = Decimal("80.0")
    proposed_limit = Decimal("20000000.00")
