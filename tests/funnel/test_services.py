"""deal_create, deal_move's bookkeeping, deal_update and checklist_set."""

import datetime
import re
from decimal import Decimal

import pytest
import time_machine

from funnel import services
from funnel.exceptions import NotAllowed, StaleDeal
from funnel.models import ChecklistCheck, ChecklistItem, Deal, Stage, StageMove, StageSetting
from funnel.services import Funding
from tests.factories import DealFactory, last_move, move, set_customer, tick_all, to_approved, to_due_diligence

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    """Time stands still at START until a test shifts it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def timed_deal(clock, ready_customer, rm1):
    """rm1's Prospect deal created at START (the customer graded at START too)."""
    return create(ready_customer, rm1)


def create(customer, by, **fields) -> Deal:
    return services.deal_create(
        by=by,
        customer=customer,
        title=fields.pop("title", "光伏电站二期融资"),
        project_type="renewable",
        amount=fields.pop("amount", Decimal("80000000.00")),
        **fields,
    )


# --- deal_create --------------------------------------------------------------------------------
def test_create_prefills_terms_from_the_aa_policy(ready_customer, rm1):
    deal = create(ready_customer, rm1)
    assert (deal.spread_bps, deal.collateral_coverage, deal.proposed_limit) == (
        80,
        Decimal("50.0"),
        Decimal("80000000.00"),
    )


def test_create_caps_the_proposed_limit_at_the_customers_credit_limit(ready_customer, rm1):
    assert ready_customer.credit_limit == Decimal("300000000.00")
    deal = create(ready_customer, rm1, amount=Decimal("450000000.00"))
    assert deal.proposed_limit == Decimal("300000000.00")
    assert deal.amount == Decimal("450000000.00")


@pytest.mark.parametrize(("tier", "spread", "collateral"), [("A", 150, Decimal("80.0")), ("B", 260, Decimal("120.0"))])
def test_create_prefills_the_terms_of_the_customers_tier(ready_customer, rm1, tier, spread, collateral):
    set_customer(ready_customer, tier=tier, credit_limit=Decimal("50000000.00"))
    ready_customer.refresh_from_db()
    deal = create(ready_customer, rm1)
    assert (deal.spread_bps, deal.collateral_coverage, deal.proposed_limit) == (
        spread,
        collateral,
        Decimal("50000000.00"),
    )


def test_create_keeps_terms_the_user_gave(ready_customer, rm1):
    deal = create(ready_customer, rm1, spread_bps=95, collateral_coverage=Decimal("70.0"))
    assert (deal.spread_bps, deal.collateral_coverage) == (95, Decimal("70.0"))


def test_create_without_a_credit_limit_proposes_the_amount(bare_customer, rm1):
    assert bare_customer.credit_limit is None
    deal = create(bare_customer, rm1, amount=Decimal("1000000.00"))
    assert (deal.spread_bps, deal.collateral_coverage, deal.proposed_limit) == (
        400,
        Decimal("150.0"),
        Decimal("1000000.00"),
    )


def test_create_takes_the_probability_from_the_prospect_stage_setting(ready_customer, rm1):
    StageSetting.objects.filter(stage=Stage.PROSPECT).update(probability=15)
    deal = create(ready_customer, rm1)
    assert deal.probability == 15
    assert deal.weighted_amount == Decimal("12000000.00")


def test_create_writes_the_first_timeline_entry(timed_deal, rm1):
    entry = StageMove.objects.get(deal=timed_deal)
    assert (entry.from_stage, entry.to_stage, entry.by, entry.at) == ("", Stage.PROSPECT, rm1, START)
    assert entry.days_in_from_stage is None
    assert (timed_deal.stage, timed_deal.stage_entered_at, timed_deal.created_at) == (Stage.PROSPECT, START, START)
    assert (timed_deal.owner, timed_deal.created_by, timed_deal.max_rank) == (rm1, rm1, 1)


def test_create_by_a_manager_keeps_the_customers_rm_as_owner(ready_customer, manager, rm1):
    deal = create(ready_customer, manager)
    assert (deal.owner, deal.created_by) == (rm1, manager)
    assert StageMove.objects.get(deal=deal).by == manager


# --- deal_move bookkeeping ----------------------------------------------------------------------
def test_a_move_takes_the_probability_of_the_target_stage_setting(deal, rm1):
    StageSetting.objects.filter(stage=Stage.DUE_DILIGENCE).update(probability=60)
    assert move(deal, Stage.PRELIMINARY, rm1).probability == 25
    assert move(deal, Stage.DUE_DILIGENCE, rm1).probability == 60
    assert move(deal, Stage.PROSPECT, rm1).probability == 10
    assert move(deal, Stage.LOST, rm1, lost_reason="pricing").probability == 0


def test_funding_sets_the_probability_to_the_funded_setting(deal, rm1):
    to_approved(deal, rm1)
    funded = move(deal, Stage.FUNDED, rm1, funding=Funding(Decimal("1000000"), datetime.date(2026, 7, 1)))
    assert funded.probability == 100


def test_a_move_restarts_the_clock_in_the_stage(timed_deal, clock, rm1):
    clock.shift(datetime.timedelta(days=3, hours=2))
    moved = move(timed_deal, Stage.PRELIMINARY, rm1)
    assert moved.stage_entered_at == START + datetime.timedelta(days=3, hours=2)
    assert moved.days_in_stage() == 0


def test_days_in_the_stage_left_are_recorded_on_each_move(timed_deal, clock, rm1):
    clock.shift(datetime.timedelta(days=5, hours=23))
    move(timed_deal, Stage.PRELIMINARY, rm1)
    assert last_move(timed_deal).days_in_from_stage == 5
    clock.shift(datetime.timedelta(days=12))
    move(timed_deal, Stage.DUE_DILIGENCE, rm1)
    assert last_move(timed_deal).days_in_from_stage == 12
    clock.shift(datetime.timedelta(hours=1))
    move(timed_deal, Stage.PRELIMINARY, rm1)  # backward moves count too
    assert last_move(timed_deal).days_in_from_stage == 0
    assert list(
        StageMove.objects.filter(deal=timed_deal).order_by("at", "id").values_list("days_in_from_stage", flat=True)
    ) == [None, 5, 12, 0]


def test_days_in_stage_for_a_deal_without_a_timeline_use_its_entry_time(clock, ready_customer, rm1):
    deal = DealFactory(customer=ready_customer, stage_entered_at=START - datetime.timedelta(days=9))
    move(deal, Stage.PRELIMINARY, rm1)
    assert last_move(deal).days_in_from_stage == 9


def test_max_rank_keeps_the_furthest_stage_reached(deal, rm1):
    assert move(deal, Stage.DUE_DILIGENCE, rm1).max_rank == 3
    assert move(deal, Stage.PROSPECT, rm1).max_rank == 3
    assert move(deal, Stage.LOST, rm1, lost_reason="pricing").max_rank == 3
    assert move(deal, Stage.PRELIMINARY, rm1).max_rank == 3
    tick_all(deal, rm1)
    assert move(deal, Stage.APPROVED, rm1).max_rank == 4


def test_screened_at_is_the_first_approval(timed_deal, clock, rm1):
    tick_all(timed_deal, rm1)
    move(timed_deal, Stage.PRELIMINARY, rm1)
    assert Deal.objects.get(pk=timed_deal.pk).screened_at is None
    clock.shift(datetime.timedelta(days=10))
    first = move(timed_deal, Stage.APPROVED, rm1).screened_at
    assert first == START + datetime.timedelta(days=10)
    clock.shift(datetime.timedelta(days=1))
    move(timed_deal, Stage.DUE_DILIGENCE, rm1)
    clock.shift(datetime.timedelta(days=1))
    assert move(timed_deal, Stage.APPROVED, rm1).screened_at == first
    clock.shift(datetime.timedelta(days=1))
    assert move(timed_deal, Stage.LOST, rm1, lost_reason="pricing").screened_at == first


def test_screened_at_is_the_first_loss_when_never_approved(timed_deal, clock, rm1):
    clock.shift(datetime.timedelta(days=4))
    first = move(timed_deal, Stage.LOST, rm1, lost_reason="withdrawn").screened_at
    assert first == START + datetime.timedelta(days=4)
    clock.shift(datetime.timedelta(days=4))
    move(timed_deal, Stage.PROSPECT, rm1)
    assert Deal.objects.get(pk=timed_deal.pk).screened_at == first
    clock.shift(datetime.timedelta(days=4))
    assert move(timed_deal, Stage.LOST, rm1, lost_reason="pricing").screened_at == first


def test_a_move_returns_the_fresh_deal_and_ignores_a_stale_copy_in_memory(deal, rm1):
    copy = Deal.objects.get(pk=deal.pk)
    copy.title = "edited in memory only"
    moved = services.deal_move(deal=copy, to_stage=Stage.PRELIMINARY, seen_stage=Stage.PROSPECT, by=rm1)
    assert moved.title == "光伏电站二期融资"
    assert Deal.objects.get(pk=deal.pk).title == "光伏电站二期融资"


def test_a_move_from_a_stage_the_deal_has_left_is_stale_and_says_who_moved_it(deal, rm1, rm2):
    services.deal_move(deal=deal, to_stage=Stage.PRELIMINARY, seen_stage=Stage.PROSPECT, by=rm2)
    with pytest.raises(StaleDeal) as info:
        services.deal_move(deal=deal, to_stage=Stage.LOST, seen_stage=Stage.PROSPECT, by=rm1, lost_reason="pricing")
    assert info.value.stage == Stage.PRELIMINARY
    assert (info.value.last_move.by, info.value.last_move.to_stage) == (rm2, Stage.PRELIMINARY)
    deal.refresh_from_db()
    assert deal.stage == Stage.PRELIMINARY
    assert StageMove.objects.filter(deal=deal).count() == 2


# --- deal_update --------------------------------------------------------------------------------
def test_update_returns_what_changed_and_saves_it(deal, rm1):
    changed = services.deal_update(
        deal=deal, by=rm1, title="光伏电站三期融资", spread_bps=90, amount=deal.amount, purpose=""
    )
    assert changed == ["title", "spread_bps"]
    deal.refresh_from_db()
    assert (deal.title, deal.spread_bps) == ("光伏电站三期融资", 90)


def test_update_with_nothing_changed_writes_nothing(deal, rm1):
    before = Deal.objects.get(pk=deal.pk).updated_at
    assert services.deal_update(deal=deal, by=rm1, title=deal.title) == []
    assert Deal.objects.get(pk=deal.pk).updated_at == before


def test_update_ignores_fields_that_are_not_editable(deal, rm1):
    assert services.deal_update(deal=deal, by=rm1, stage=Stage.APPROVED, max_rank=4) == []
    deal.refresh_from_db()
    assert (deal.stage, deal.max_rank) == (Stage.PROSPECT, 1)


def test_update_cannot_reassign_the_deal_away_from_the_customers_rm(deal, rm1, rm2):
    assert services.deal_update(deal=deal, by=rm1, owner=rm2, team_id=None) == []
    assert Deal.objects.get(pk=deal.pk).owner == rm1


@pytest.mark.parametrize("closed", [Stage.LOST, Stage.FUNDED])
def test_a_closed_deal_cannot_be_edited(deal, rm1, closed):
    if closed == Stage.LOST:
        move(deal, Stage.LOST, rm1, lost_reason="pricing")
    else:
        to_approved(deal, rm1)
        move(deal, Stage.FUNDED, rm1, funding=Funding(Decimal("1000000"), datetime.date(2026, 7, 1)))
    deal.refresh_from_db()
    with pytest.raises(NotAllowed, match=re.escape("A closed deal cannot be edited.")):
        services.deal_update(deal=deal, by=rm1, title="changed")
    assert Deal.objects.get(pk=deal.pk).title == "光伏电站二期融资"


@pytest.mark.parametrize(
    "terms", [{"spread_bps": 90}, {"collateral_coverage": Decimal("60.0")}, {"proposed_limit": Decimal("1.00")}]
)
def test_the_terms_of_an_approved_deal_are_fixed(deal, rm1, terms):
    approved = to_approved(deal, rm1)
    with pytest.raises(NotAllowed, match="The terms of an approved deal are fixed"):
        services.deal_update(deal=approved, by=rm1, title="ignored with the terms", **terms)
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.title, fresh.spread_bps, fresh.collateral_coverage, fresh.proposed_limit) == (
        "光伏电站二期融资",
        80,
        Decimal("50.0"),
        Decimal("80000000.00"),
    )


def test_an_approved_deal_keeps_other_fields_editable(deal, rm1):
    approved = to_approved(deal, rm1)
    changed = services.deal_update(
        deal=approved, by=rm1, expected_close=datetime.date(2026, 9, 30), spread_bps=approved.spread_bps
    )
    assert changed == ["expected_close"]


# --- checklist_set ------------------------------------------------------------------------------
@pytest.fixture
def site_visit(db):
    return ChecklistItem.objects.get(name="Site visit completed and documented")


def test_ticking_twice_keeps_the_first_tick(deal, rm1, rm2, site_visit):
    services.checklist_set(deal=deal, item=site_visit, by=rm1, done=True, note="Visited 3 March")
    services.checklist_set(deal=deal, item=site_visit, by=rm2, done=True, note="again")
    check = ChecklistCheck.objects.get(deal=deal, item=site_visit)
    assert (check.checked_by, check.note) == (rm1, "Visited 3 March")


def test_unticking_removes_the_tick_and_twice_is_harmless(deal, rm1, site_visit):
    services.checklist_set(deal=deal, item=site_visit, by=rm1, done=True)
    services.checklist_set(deal=deal, item=site_visit, by=rm1, done=False)
    services.checklist_set(deal=deal, item=site_visit, by=rm1, done=False)
    assert not ChecklistCheck.objects.filter(deal=deal).exists()


def test_the_checklist_of_an_approved_deal_cannot_be_unticked(deal, rm1, site_visit):
    approved = to_approved(deal, rm1)
    with pytest.raises(NotAllowed, match=re.escape("The checklist of an approved deal is closed.")):
        services.checklist_set(deal=approved, item=site_visit, by=rm1, done=False)
    assert ChecklistCheck.objects.filter(deal=deal, item=site_visit).exists()


def test_the_checklist_of_a_closed_deal_cannot_be_changed(deal, rm1, site_visit):
    lost = move(deal, Stage.LOST, rm1, lost_reason="pricing")
    with pytest.raises(NotAllowed, match=re.escape("A closed deal cannot be changed.")):
        services.checklist_set(deal=lost, item=site_visit, by=rm1, done=True)
    assert not ChecklistCheck.objects.filter(deal=deal).exists()


def test_ticks_are_per_deal(deal, rm1, ready_customer, site_visit):
    other = create(ready_customer, rm1, title="另一个项目")
    services.checklist_set(deal=deal, item=site_visit, by=rm1, done=True)
    assert not ChecklistCheck.objects.filter(deal=other).exists()


# --- writes judge the stage the deal is in now, not the copy the caller loaded ------------------
def test_terms_cannot_be_changed_through_a_copy_loaded_before_approval(deal, rm1):
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    edit_form_copy = Deal.objects.get(pk=deal.pk)  # loaded in Due diligence
    move(deal, Stage.APPROVED, rm1)  # someone approves it meanwhile
    with pytest.raises(NotAllowed, match=re.escape("The terms of an approved deal are fixed.")):
        services.deal_update(deal=edit_form_copy, by=rm1, spread_bps=40)
    assert Deal.objects.get(pk=deal.pk).spread_bps == 80


def test_a_copy_loaded_before_the_deal_was_lost_cannot_edit_it(deal, rm1):
    copy = Deal.objects.get(pk=deal.pk)
    move(deal, Stage.LOST, rm1, lost_reason="pricing")
    with pytest.raises(NotAllowed, match=re.escape("A closed deal cannot be edited.")):
        services.deal_update(deal=copy, by=rm1, title="changed")
    assert Deal.objects.get(pk=deal.pk).title == "光伏电站二期融资"


def test_the_checklist_cannot_be_unticked_through_a_copy_loaded_before_approval(deal, rm1, site_visit):
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    copy = Deal.objects.get(pk=deal.pk)
    move(deal, Stage.APPROVED, rm1)
    with pytest.raises(NotAllowed, match=re.escape("The checklist of an approved deal is closed.")):
        services.checklist_set(deal=copy, item=site_visit, by=rm1, done=False)
    assert ChecklistCheck.objects.filter(deal=deal, item=site_visit).exists()
