"""The evidence gates as the relationship manager meets them: every refused move says what is
missing, in words they can act on, and leaves the deal where it was."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from customers.models import TierPolicy
from funnel import services
from funnel.models import ChecklistItem, Stage, StageMove
from funnel.services import Funding
from risk.models import Facility
from tests.factories import last_move, move, refused, set_customer, set_terms, tick_all, to_approved, to_due_diligence

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
CHANGE_TERMS = "Change the terms, or ask a team manager to approve an exception for these terms."
FUNDED_IS_CLOSED = "A funded deal is closed and cannot be moved."
ONLY_APPROVED_FUNDED = "Only an approved deal can be funded."


@pytest.fixture
def approved_deal(deal, rm1):
    return to_approved(deal, rm1)


# --- Preliminary assessment ---------------------------------------------------------------------
def test_preliminary_opens_with_a_recent_report_and_a_statement(deal, rm1):
    moved = move(deal, Stage.PRELIMINARY, rm1, note="Report and accounts in")
    assert moved.stage == Stage.PRELIMINARY
    entry = last_move(deal)
    assert (entry.from_stage, entry.to_stage, entry.by, entry.note) == (
        Stage.PROSPECT,
        Stage.PRELIMINARY,
        rm1,
        "Report and accounts in",
    )


def test_preliminary_refused_without_a_credit_report_names_it(deal, rm1, ready_customer):
    set_customer(ready_customer, credit_report_date=None)
    assert refused(deal, Stage.PRELIMINARY, rm1) == [
        "Preliminary assessment needs a credit report on 华东光伏电站项目有限公司. Add one on the customer's page."
    ]


def test_preliminary_refused_without_a_financial_statement_names_it(deal, rm1, ready_customer):
    set_customer(ready_customer, statement_date=None)
    assert refused(deal, Stage.PRELIMINARY, rm1) == [
        "Preliminary assessment needs a financial statement on 华东光伏电站项目有限公司. "
        "Add one on the customer's page."
    ]


def test_preliminary_lists_both_missing_sources(bare_customer, rm1):
    deal = services.deal_create(
        by=rm1, customer=bare_customer, title="风电场", project_type="renewable", amount=Decimal("1000000")
    )
    problems = refused(deal, Stage.PRELIMINARY, rm1)
    assert len(problems) == 2
    assert "credit report on 新兴风电开发有限公司" in problems[0]
    assert "financial statement on 新兴风电开发有限公司" in problems[1]


@time_machine.travel(datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI), tick=False)
def test_preliminary_refuses_a_report_older_than_the_policy_limit_with_its_date(deal, rm1, ready_customer):
    set_customer(ready_customer, credit_report_date=datetime.date(2025, 3, 9))  # 366 days old
    assert refused(deal, Stage.PRELIMINARY, rm1) == [
        "The latest credit report (2025-03-09) is older than 365 days. Add a report dated 2025-03-10 or later."
    ]


@time_machine.travel(datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI), tick=False)
def test_preliminary_accepts_a_report_exactly_at_the_limit(deal, rm1, ready_customer):
    set_customer(ready_customer, credit_report_date=datetime.date(2025, 3, 10))  # 365 days old
    assert move(deal, Stage.PRELIMINARY, rm1).stage == Stage.PRELIMINARY


@time_machine.travel(datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI), tick=False)
def test_preliminary_uses_the_limit_of_the_customers_tier_policy(deal, rm1, ready_customer):
    TierPolicy.objects.filter(tier="AA").update(max_data_age_days=90)
    TierPolicy.objects.filter(tier="A").update(max_data_age_days=365)  # another tier's limit is not used
    set_customer(ready_customer, credit_report_date=datetime.date(2025, 12, 1))  # 99 days old
    assert refused(deal, Stage.PRELIMINARY, rm1) == [
        "The latest credit report (2025-12-01) is older than 90 days. Add a report dated 2025-12-10 or later."
    ]


# --- Due diligence ------------------------------------------------------------------------------
def test_due_diligence_opens_for_a_graded_customer(deal, rm1):
    assert to_due_diligence(deal, rm1).stage == Stage.DUE_DILIGENCE


def test_due_diligence_refused_for_an_unrated_customer(deal, rm1, ready_customer):
    move(deal, Stage.PRELIMINARY, rm1)
    set_customer(ready_customer, tier="unrated")
    assert refused(deal, Stage.DUE_DILIGENCE, rm1) == [
        "Due diligence needs a graded customer; 华东光伏电站项目有限公司 is Unrated. "
        "Complete its data so it can be graded."
    ]


@pytest.fixture
def b_deal(deal, rm1, ready_customer):
    """The same deal once its customer is tier B (policy: 120% collateral), in Preliminary."""
    move(deal, Stage.PRELIMINARY, rm1)
    set_customer(ready_customer, tier="B", credit_limit=Decimal("100000000.00"))
    return deal


@pytest.mark.parametrize(
    ("coverage", "shown"),
    [(Decimal("119.9"), "119.9%"), (Decimal("50.0"), "50.0%"), (None, "none")],
)
def test_tier_b_below_its_collateral_policy_is_refused_with_the_required_percentage(b_deal, rm1, coverage, shown):
    set_terms(b_deal, collateral_coverage=coverage)
    assert refused(b_deal, Stage.DUE_DILIGENCE, rm1) == [
        f"A tier B customer's deal needs collateral coverage of at least 120.0% (the deal proposes {shown})."
    ]


@pytest.mark.parametrize("coverage", [Decimal("120.0"), Decimal("150.0")])
def test_tier_b_at_or_above_its_collateral_policy_enters_due_diligence(b_deal, rm1, coverage):
    set_terms(b_deal, collateral_coverage=coverage)
    assert move(b_deal, Stage.DUE_DILIGENCE, rm1).stage == Stage.DUE_DILIGENCE


def test_tier_b_follows_an_edited_policy(b_deal, rm1):
    TierPolicy.objects.filter(tier="B").update(collateral_coverage=Decimal("140.0"))
    set_terms(b_deal, collateral_coverage=Decimal("130.0"))
    assert refused(b_deal, Stage.DUE_DILIGENCE, rm1) == [
        "A tier B customer's deal needs collateral coverage of at least 140.0% (the deal proposes 130.0%)."
    ]


def test_tier_a_collateral_is_checked_at_approval_not_before_due_diligence(deal, rm1, ready_customer):
    set_customer(ready_customer, tier="A")
    set_terms(deal, collateral_coverage=Decimal("10.0"))
    assert to_due_diligence(deal, rm1).stage == Stage.DUE_DILIGENCE


# --- Approved -----------------------------------------------------------------------------------
def test_approved_with_the_checklist_done_and_terms_in_policy(deal, rm1):
    moved = to_approved(deal, rm1)
    assert moved.stage == Stage.APPROVED


def test_approved_refused_while_checklist_items_are_open_and_lists_them(deal, rm1):
    to_due_diligence(deal, rm1)
    open_items = ("Collateral appraised by an independent valuer", "Legal opinion on permits and litigation obtained")
    tick_all(deal, rm1, except_names=open_items)
    assert refused(deal, Stage.APPROVED, rm1) == [
        "The due-diligence checklist is not complete. Still open: "
        "Collateral appraised by an independent valuer; Legal opinion on permits and litigation obtained."
    ]


def test_approved_lists_the_open_items_in_chinese_for_a_chinese_user(deal, rm1):
    from django.utils import translation

    to_due_diligence(deal, rm1)
    tick_all(deal, rm1, except_names=("Site visit completed and documented",))
    with translation.override("zh-hans"):
        problems = refused(deal, Stage.APPROVED, rm1)
    assert "已完成实地考察并形成记录" in problems[0]


@pytest.mark.parametrize(
    ("terms", "problem"),
    [
        ({"spread_bps": 79}, "The rate spread must be at least 80 bp for Tier AA (proposed: 79 bp)."),
        ({"spread_bps": None}, "The rate spread must be at least 80 bp for Tier AA (proposed: none)."),
        (
            {"collateral_coverage": Decimal("49.9")},
            "Collateral coverage must be at least 50.0% for Tier AA (proposed: 49.9%).",
        ),
        (
            {"proposed_limit": Decimal("300000000.01")},
            "The proposed limit is above the customer's credit limit of 300,000,000.00 CNY.",
        ),
        ({"proposed_limit": None}, "The deal has no proposed limit."),
    ],
)
def test_approved_refuses_each_term_outside_the_tier_policy(deal, rm1, terms, problem):
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    set_terms(deal, **terms)
    assert refused(deal, Stage.APPROVED, rm1) == [problem, CHANGE_TERMS]


def test_approved_accepts_terms_exactly_at_the_policy(deal, rm1):
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    set_terms(
        deal, spread_bps=80, collateral_coverage=Decimal("50.0"), proposed_limit=Decimal("300000000.00")
    )  # AA policy, and the customer's whole credit limit
    assert move(deal, Stage.APPROVED, rm1).stage == Stage.APPROVED


def test_a_deactivated_checklist_item_is_no_longer_required(deal, rm1):
    to_due_diligence(deal, rm1)
    site_visit = ChecklistItem.objects.get(name="Site visit completed and documented")
    tick_all(deal, rm1, except_names=(site_visit.name,))
    assert "Site visit completed and documented" in refused(deal, Stage.APPROVED, rm1)[0]
    site_visit.is_active = False
    site_visit.save()
    assert move(deal, Stage.APPROVED, rm1).stage == Stage.APPROVED


def test_a_deleted_checklist_item_is_no_longer_required(deal, rm1):
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1, except_names=("Site visit completed and documented",))
    ChecklistItem.objects.filter(name="Site visit completed and documented").delete()
    assert move(deal, Stage.APPROVED, rm1).stage == Stage.APPROVED


def test_a_new_checklist_item_is_required_of_deals_already_in_due_diligence(deal, rm1):
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    ChecklistItem.objects.create(name="Environmental permit checked", order=999)
    assert refused(deal, Stage.APPROVED, rm1) == [
        "The due-diligence checklist is not complete. Still open: Environmental permit checked."
    ]


# --- Forward jumps ------------------------------------------------------------------------------
def test_a_forward_jump_lists_the_problems_of_every_gate_on_the_way(bare_customer, rm1):
    deal = services.deal_create(
        by=rm1,
        customer=bare_customer,
        title="风电场",
        project_type="renewable",
        amount=Decimal("1000000"),
        spread_bps=100,  # the Unrated policy asks 400 bp
    )
    problems = refused(deal, Stage.APPROVED, rm1)
    assert problems[0].startswith("Preliminary assessment needs a credit report")
    assert problems[1].startswith("Preliminary assessment needs a financial statement")
    assert problems[2].startswith("Due diligence needs a graded customer; 新兴风电开发有限公司 is Unrated.")
    assert problems[3].startswith("The due-diligence checklist is not complete. Still open: Site visit completed")
    assert problems[4:] == [
        "The rate spread must be at least 400 bp for Unrated (proposed: 100 bp).",
        CHANGE_TERMS,
    ]


def test_a_forward_jump_must_meet_the_gates_it_skips(deal, rm1, ready_customer):
    set_customer(ready_customer, statement_date=None)  # Due diligence's own gate is met
    problems = refused(deal, Stage.DUE_DILIGENCE, rm1)
    assert len(problems) == 1
    assert "needs a financial statement" in problems[0]


def test_a_forward_jump_with_all_evidence_goes_through_in_one_recorded_move(deal, rm1):
    tick_all(deal, rm1)
    moved = move(deal, Stage.APPROVED, rm1)
    assert moved.stage == Stage.APPROVED
    assert list(StageMove.objects.filter(deal=deal).order_by("at", "id").values_list("from_stage", "to_stage")) == [
        ("", Stage.PROSPECT),
        (Stage.PROSPECT, Stage.APPROVED),
    ]


# --- Backward moves -----------------------------------------------------------------------------
def test_a_backward_move_needs_no_evidence_and_is_recorded(deal, rm1, ready_customer):
    to_due_diligence(deal, rm1)
    set_customer(ready_customer, tier="unrated", credit_report_date=None, statement_date=None)
    moved = move(deal, Stage.PROSPECT, rm1, note="Customer paused the project")
    assert moved.stage == Stage.PROSPECT
    entry = last_move(deal)
    assert (entry.from_stage, entry.to_stage, entry.note) == (
        Stage.DUE_DILIGENCE,
        Stage.PROSPECT,
        "Customer paused the project",
    )
    assert entry.is_backward


def test_an_approved_deal_can_go_back_to_due_diligence(approved_deal, rm1):
    assert move(approved_deal, Stage.DUE_DILIGENCE, rm1).stage == Stage.DUE_DILIGENCE


def test_moving_to_the_stage_it_is_in_is_refused(deal, rm1):
    assert refused(deal, Stage.PROSPECT, rm1) == ["The deal is already in this stage."]


# --- Lost and reopened --------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["", "because"])
def test_lost_without_a_reason_is_refused(deal, rm1, reason):
    assert refused(deal, Stage.LOST, rm1, lost_reason=reason) == ["Say why the deal was lost."]


@pytest.mark.parametrize("stage", [Stage.PROSPECT, Stage.PRELIMINARY, Stage.DUE_DILIGENCE, Stage.APPROVED])
def test_lost_from_any_open_stage_keeps_the_reason_and_closes_the_deal(deal, rm1, stage):
    tick_all(deal, rm1)
    if stage != Stage.PROSPECT:
        move(deal, stage, rm1)
    moved = move(deal, Stage.LOST, rm1, lost_reason="competitor", note="ICBC offered 20 bp less")
    assert moved.stage == Stage.LOST
    assert moved.lost_reason == "competitor"
    assert moved.closed_at is not None
    assert not moved.is_open
    assert (last_move(deal).from_stage, last_move(deal).to_stage) == (stage, Stage.LOST)


def test_a_lost_deal_can_be_reopened(deal, rm1):
    move(deal, Stage.LOST, rm1, lost_reason="withdrawn")
    reopened = move(deal, Stage.PROSPECT, rm1, note="They are back")
    assert reopened.stage == Stage.PROSPECT
    assert reopened.lost_reason == ""
    assert reopened.closed_at is None
    assert (last_move(deal).from_stage, last_move(deal).to_stage) == (Stage.LOST, Stage.PROSPECT)


def test_reopening_into_a_later_stage_meets_every_gate_up_to_it(deal, rm1, ready_customer):
    move(deal, Stage.LOST, rm1, lost_reason="withdrawn")
    set_customer(ready_customer, statement_date=None)
    problems = refused(deal, Stage.DUE_DILIGENCE, rm1)
    assert len(problems) == 1
    assert "needs a financial statement" in problems[0]
    set_customer(ready_customer, statement_date=timezone.localdate())
    assert move(deal, Stage.DUE_DILIGENCE, rm1).stage == Stage.DUE_DILIGENCE


def test_a_lost_deal_cannot_be_funded(deal, rm1):
    move(deal, Stage.LOST, rm1, lost_reason="withdrawn")
    funding = Funding(amount=Decimal("1000000"), start_date=timezone.localdate())
    assert refused(deal, Stage.FUNDED, rm1, funding=funding) == [ONLY_APPROVED_FUNDED]


# --- Funded -------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", [Stage.PROSPECT, Stage.PRELIMINARY, Stage.DUE_DILIGENCE])
@pytest.mark.parametrize("with_funding", [True, False])
def test_only_an_approved_deal_can_be_funded(deal, rm1, stage, with_funding):
    if stage != Stage.PROSPECT:
        move(deal, stage, rm1)
    funding = Funding(amount=Decimal("1000000"), start_date=timezone.localdate()) if with_funding else None
    assert refused(deal, Stage.FUNDED, rm1, funding=funding) == [ONLY_APPROVED_FUNDED]
    assert not Facility.objects.exists()


@pytest.mark.parametrize(
    ("amount", "start", "maturity", "problems"),
    [
        (
            Decimal("80000000.01"),
            datetime.date(2026, 7, 1),
            None,
            ["The funded amount is above the approved limit of 80,000,000.00 CNY."],
        ),
        (Decimal("0"), datetime.date(2026, 7, 1), None, ["The funded amount must be more than zero."]),
        (
            Decimal("1000000"),
            datetime.date(2026, 7, 1),
            datetime.date(2026, 6, 30),
            ["The maturity date must be after the start date."],
        ),
        (
            Decimal("1000000"),
            datetime.date(2026, 7, 1),
            datetime.date(2026, 7, 1),
            ["The maturity date must be after the start date."],
        ),
        (
            Decimal("90000000"),
            datetime.date(2026, 7, 1),
            datetime.date(2025, 7, 1),
            [
                "The funded amount is above the approved limit of 80,000,000.00 CNY.",
                "The maturity date must be after the start date.",
            ],
        ),
    ],
)
def test_funding_outside_the_approval_is_refused(approved_deal, rm1, amount, start, maturity, problems):
    funding = Funding(amount=amount, start_date=start, maturity_date=maturity)
    assert refused(approved_deal, Stage.FUNDED, rm1, funding=funding) == problems
    assert not Facility.objects.exists()


@pytest.mark.parametrize(
    "funding",
    [
        None,
        Funding(amount=Decimal("1000000"), start_date=None),
        Funding(amount=None, start_date=datetime.date(2026, 7, 1)),
        Funding(amount=Decimal("1000000"), start_date=None, maturity_date=datetime.date(2036, 6, 30)),
    ],
    ids=["nothing", "no-start", "no-amount", "maturity-but-no-start"],
)
def test_funding_needs_an_amount_and_a_start_date(approved_deal, rm1, funding):
    assert refused(approved_deal, Stage.FUNDED, rm1, funding=funding) == ["Give the funded amount and the start date."]
    assert not Facility.objects.exists()


def test_funding_opens_exactly_one_facility_with_the_approved_numbers(approved_deal, rm1, ready_customer):
    funding = Funding(
        amount=Decimal("60000000.00"), start_date=datetime.date(2026, 7, 1), maturity_date=datetime.date(2036, 6, 30)
    )
    funded = move(approved_deal, Stage.FUNDED, rm1, funding=funding, note="Signed")
    assert funded.stage == Stage.FUNDED
    assert funded.closed_at is not None
    facility = Facility.objects.get()
    assert facility.deal == funded
    assert facility.customer == ready_customer
    assert facility.limit == Decimal("80000000.00")  # the approved proposed limit
    assert facility.drawn == facility.outstanding == Decimal("60000000.00")
    assert (facility.start_date, facility.maturity_date) == (datetime.date(2026, 7, 1), datetime.date(2036, 6, 30))
    assert facility.created_by == rm1
    assert (last_move(funded).from_stage, last_move(funded).to_stage) == (Stage.APPROVED, Stage.FUNDED)


def test_funding_the_whole_limit_is_allowed(approved_deal, rm1):
    funding = Funding(amount=Decimal("80000000.00"), start_date=datetime.date(2026, 7, 1))
    move(approved_deal, Stage.FUNDED, rm1, funding=funding)
    assert Facility.objects.get().maturity_date is None


@pytest.mark.parametrize(
    ("to_stage", "kwargs"),
    [
        (Stage.PROSPECT, {}),
        (Stage.APPROVED, {}),
        (Stage.LOST, {"lost_reason": "pricing"}),
        (Stage.LOST, {}),
        (Stage.FUNDED, {"funding": Funding(amount=Decimal("1"), start_date=datetime.date(2026, 7, 2))}),
    ],
)
def test_a_funded_deal_cannot_move(approved_deal, rm1, to_stage, kwargs):
    move(
        approved_deal,
        Stage.FUNDED,
        rm1,
        funding=Funding(amount=Decimal("1000000"), start_date=datetime.date(2026, 7, 1)),
    )
    assert refused(approved_deal, to_stage, rm1, **kwargs) == [
        FUNDED_IS_CLOSED if to_stage != Stage.FUNDED else "The deal is already in this stage."
    ]
    assert Facility.objects.count() == 1
