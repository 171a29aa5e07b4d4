"""Factories and the plain helpers that build test data, shared by every test package. Shipped
data (roles, the default scorecard, tier policies, stage settings, alert rules, beat schedules)
comes from the data migrations when the test database is migrated; transactional tests get it
back through ``serialized_rollback``."""

import datetime
from decimal import Decimal

import factory
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.models import Team, User
from crm.roles import Role
from customers.credit_code import ALPHABET, make_credit_code
from customers.grading import BandSpec, CriterionSpec, ScorecardSpec
from customers.models import (
    Activity,
    Band,
    Contact,
    Criterion,
    Customer,
    GradeReason,
    Industry,
    IndustryPosition,
    Scorecard,
    ScorecardStatus,
)
from customers.regrade import regrade
from funnel import services as funnel_services
from funnel.exceptions import GateNotMet
from funnel.models import ChecklistItem, Deal, Stage, StageMove, TermsException
from risk.models import Alert, AlertRule, AlertSeverity, Facility, Repayment, RepaymentInstallment

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


# Grading inputs enough for the default scorecard to give a score (CustomerFactory(**GRADEABLE)).
GRADEABLE = {
    "bureau_rating": "A",
    "has_litigation": False,
    "overdue_count": 0,
    "debt_ratio": "0.6",
    "current_ratio": "1.2",
    "project_amount": "80000000",
    "cooperation_since": "2020-01-01",
}


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


class DealFactory(factory.django.DjangoModelFactory):
    """A deal in Prospect identified with terms inside the shipped tier-A policy. Creating it
    this way skips the timeline's first entry; use funnel.services.deal_create for that."""

    class Meta:
        model = Deal

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


class TermsExceptionFactory(factory.django.DjangoModelFactory):
    """A pending request for an exception to the tier policy, stating no terms."""

    class Meta:
        model = TermsException

    deal = factory.SubFactory(DealFactory)
    reason = "Strategic customer; collateral is being topped up."
    requested_by = factory.LazyAttribute(lambda e: e.deal.owner)


# --- Customers: graded, and scorecards ----------------------------------------------------------
def graded_inputs() -> dict:
    """Every grading input present, recent sources: the shipped scorecard grades it AA."""
    today = timezone.localdate()
    return {
        "registered_capital": Decimal("500000000"),
        "industry_position": "leader",
        "bureau_rating": "AA",
        "has_litigation": False,
        "overdue_count": 0,
        "debt_ratio": Decimal("0.45"),
        "current_ratio": Decimal("1.8"),
        "project_amount": Decimal("300000000"),
        "cooperation_since": datetime.date(2018, 1, 1),
        "credit_report_date": today - datetime.timedelta(days=30),
        "statement_date": today - datetime.timedelta(days=90),
    }


def make_graded_customer(**fields) -> Customer:
    """A customer with every grading input present and a recent credit report and statement,
    graded by the active scorecard (the shipped one grades it AA); ``fields`` go to the factory."""
    customer = CustomerFactory(**{**graded_inputs(), **fields})
    regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
    customer.refresh_from_db()
    return customer


def save_spec(spec: ScorecardSpec, *, version: int, status=ScorecardStatus.DRAFT, name="Test") -> Scorecard:
    """A scorecard with its criteria and bands, as the scorecard editor saves it."""
    card = Scorecard.objects.create(
        version=version, name=name, status=status, cutoff_aa=spec.cutoff_aa, cutoff_a=spec.cutoff_a
    )
    for order, c in enumerate(spec.criteria):
        criterion = Criterion.objects.create(
            scorecard=card, group="credit", attribute=c.attribute, weight=c.weight, order=order
        )
        Band.objects.bulk_create(
            Band(criterion=criterion, lower=b.lower, upper=b.upper, category=b.category, points=b.points)
            for b in c.bands
        )
    return card


def numeric(attribute: str, weight: int, *edges_and_points) -> CriterionSpec:
    """numeric("debt_ratio", 10, 100, "0.5", 60, "0.8", 0) → [−∞,0.5)→100, [0.5,0.8)→60, [0.8,∞)→0"""
    points = edges_and_points[0::2]
    edges = [Decimal(e) for e in edges_and_points[1::2]]
    lowers = [None, *edges]
    uppers = [*edges, None]
    bands = zip(points, lowers, uppers, strict=True)
    return CriterionSpec(attribute, weight, tuple(BandSpec(points=p, lower=lo, upper=hi) for p, lo, hi in bands))


def categorical(attribute: str, weight: int, mapping: dict[str, int]) -> CriterionSpec:
    return CriterionSpec(attribute, weight, tuple(BandSpec(points=p, category=k) for k, p in mapping.items()))


POSITIONS = {"leader": 100, "major": 70, "average": 40, "marginal": 10}

SIMPLE = ScorecardSpec(
    criteria=(
        numeric("debt_ratio", 40, 100, "0.5", 60, "0.8", 0),
        categorical("industry_position", 30, POSITIONS),
        numeric("registered_capital", 30, 20, "100000000", 100),
    ),
    cutoff_aa=Decimal("80"),
    cutoff_a=Decimal("60"),
)


# --- Funnel: a deal through its stages, as its RM takes it --------------------------------------
def move(deal: Deal, to_stage: str, by, **kwargs) -> Deal:
    """Move as the board does, naming the stage the deal is in now; ``deal`` is refreshed."""
    deal.refresh_from_db()
    moved = funnel_services.deal_move(deal=deal, to_stage=to_stage, seen_stage=deal.stage, by=by, **kwargs)
    deal.refresh_from_db()
    return moved


def refused(deal: Deal, to_stage: str, by, **kwargs) -> list[str]:
    """Try the move, expect it refused; return the problems and check nothing was written."""
    deal.refresh_from_db()
    before = (deal.stage, StageMove.objects.filter(deal=deal).count())
    with pytest.raises(GateNotMet) as info:
        funnel_services.deal_move(deal=deal, to_stage=to_stage, seen_stage=deal.stage, by=by, **kwargs)
    deal.refresh_from_db()
    assert (deal.stage, StageMove.objects.filter(deal=deal).count()) == before
    return info.value.problems


def tick_all(deal: Deal, by, *, except_names: tuple[str, ...] = ()) -> None:
    for item in ChecklistItem.objects.filter(is_active=True).exclude(name__in=except_names):
        funnel_services.checklist_set(deal=deal, item=item, by=by, done=True)


def to_due_diligence(deal: Deal, by) -> Deal:
    move(deal, Stage.PRELIMINARY, by)
    return move(deal, Stage.DUE_DILIGENCE, by)


def to_approved(deal: Deal, by) -> Deal:
    """One layer at a time, every due-diligence checklist item ticked before approval."""
    to_due_diligence(deal, by)
    tick_all(deal, by)
    return move(deal, Stage.APPROVED, by)


def set_customer(customer: Customer, **fields) -> None:
    """Gates read the customer row; grading outputs are written by the engine, so set them
    directly here."""
    Customer.objects.filter(pk=customer.pk).update(**fields)


def set_terms(deal: Deal, **fields) -> None:
    deal.refresh_from_db()
    funnel_services.deal_update(deal=deal, by=deal.owner, **fields)


def last_move(deal: Deal) -> StageMove:
    return StageMove.objects.filter(deal=deal).order_by("-at", "-id").first()


# --- Risk: facilities, schedules, repayments, alerts --------------------------------------------
START = datetime.date(2025, 1, 1)
MATURITY = datetime.date(2027, 12, 31)

# Four monthly installments; principal 100,000.00 each, interest falling as principal is repaid.
SCHEDULE = [
    (datetime.date(2025, 3, 31), Decimal("100000.00"), Decimal("5000.00")),  # cumulative 105,000.00
    (datetime.date(2025, 4, 30), Decimal("100000.00"), Decimal("4500.00")),  # cumulative 209,500.00
    (datetime.date(2025, 5, 31), Decimal("100000.00"), Decimal("4000.00")),  # cumulative 313,500.00
    (datetime.date(2025, 6, 30), Decimal("100000.00"), Decimal("3500.00")),  # cumulative 417,000.00
]


class FacilityFactory(factory.django.DjangoModelFactory):
    """A funded deal's facility, created directly (the funded-deal receiver does the same):
    1,000,000.00 drawn and outstanding since 2025-01-01 against a limit of 1,200,000.00."""

    class Meta:
        model = Facility

    customer = factory.SubFactory(CustomerFactory)
    deal = factory.SubFactory(DealFactory, customer=factory.SelfAttribute("..customer"), stage="funded")
    granted_limit = Decimal("1200000.00")
    limit = Decimal("1200000.00")
    drawn = Decimal("1000000.00")
    outstanding = factory.SelfAttribute("drawn")
    start_date = START
    maturity_date = MATURITY
    created_by = factory.LazyAttribute(lambda f: f.customer.owner)


class RepaymentInstallmentFactory(factory.django.DjangoModelFactory):
    """One line of a schedule, written directly: history the service would refuse to set in the
    past."""

    class Meta:
        model = RepaymentInstallment

    facility = factory.SubFactory(FacilityFactory)
    due_date = datetime.date(2025, 3, 31)
    principal = Decimal("100000.00")
    interest = Decimal("5000.00")


class RepaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repayment

    facility = factory.SubFactory(FacilityFactory)
    received_on = datetime.date(2025, 3, 31)
    amount = Decimal("105000.00")
    entered_by = factory.LazyAttribute(lambda r: r.facility.created_by)


def add_installments(facility: Facility, rows) -> None:
    """Schedule rows (due date, principal, interest) for ``facility``."""
    for due, principal, interest in rows:
        RepaymentInstallmentFactory(
            facility=facility, due_date=due, principal=Decimal(principal), interest=Decimal(interest)
        )


def add_repayments(facility: Facility, rows) -> None:
    """Repayment rows (received on, amount) for ``facility``."""
    for received_on, amount in rows:
        RepaymentFactory(facility=facility, received_on=received_on, amount=Decimal(amount))


class AlertRuleFactory(factory.django.DjangoModelFactory):
    """A rule as an admin adds it: a tier downgrade, warning, for all tiers, enabled."""

    class Meta:
        model = AlertRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = "tier_downgrade"
    severity = AlertSeverity.WARNING


class AlertFactory(factory.django.DjangoModelFactory):
    """An open alert, with the severity of its rule (as raised). Owner and team are copied from
    the customer by the database."""

    class Meta:
        model = Alert

    customer = factory.SubFactory(CustomerFactory)
    rule = factory.SubFactory(AlertRuleFactory)
    severity = factory.LazyAttribute(lambda a: a.rule.severity)
    opened_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.SelfAttribute("opened_at")


# --- What users record on a customer or a deal -------------------------------------------------
# Rows as saved. Through the pages, intake re-grades the customer on each source
# (customers.services.source_add); use that where the grade must follow.
class _SourceFactory(factory.django.DjangoModelFactory):
    customer = factory.SubFactory(CustomerFactory)
    entered_by = factory.LazyAttribute(lambda r: r.customer.owner)
    as_of = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))


class CreditReportFactory(_SourceFactory):
    class Meta:
        model = "customers.CreditReport"

    rating = "A"
    outstanding_debt = Decimal("120000000.00")


class FinancialStatementFactory(_SourceFactory):
    class Meta:
        model = "customers.FinancialStatement"

    revenue = Decimal("800000000.00")
    net_profit = Decimal("60000000.00")
    total_assets = Decimal("2000000000.00")
    total_liabilities = Decimal("1100000000.00")
    current_assets = Decimal("700000000.00")
    current_liabilities = Decimal("400000000.00")


class FundingNeedFactory(_SourceFactory):
    class Meta:
        model = "customers.FundingNeed"

    project_amount = Decimal("300000000.00")
    purpose = "光伏电站二期"
    term_months = 60


class CooperationRecordFactory(_SourceFactory):
    class Meta:
        model = "customers.CooperationRecord"

    kind = "loan"
    description = "2019 年项目贷款"
    amount = Decimal("50000000.00")


class TierOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.TierOverride"

    customer = factory.SubFactory(CustomerFactory)
    tier = "A"
    reason = "Parent guarantee signed; the scorecard does not see it."
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=90))
    created_by = factory.LazyAttribute(lambda o: o.customer.owner)


class DealDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "funnel.DealDocument"

    deal = factory.SubFactory(DealFactory)
    kind = "feasibility"
    title = "可行性研究报告"
    dated = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))
    added_by = factory.LazyAttribute(lambda d: d.deal.owner)
