"""The daily stale-deal job: deals overdue in their stage (more than 1.5 × its expected days) get
flagged, once; a move or
a longer allowance clears the flag. Called directly, and once through a real worker."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from funnel import services
from funnel.models import Deal, Stage, StageSetting
from funnel.tasks import deals_flag_stale
from tests.conftest import lease_held, wait_for
from tests.factories import move

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def timed_deal(clock, ready_customer, rm1):
    """rm1's deal entering Prospect (expected: 30 days) at START."""
    return services.deal_create(
        by=rm1,
        customer=ready_customer,
        title="光伏电站二期融资",
        project_type="renewable",
        amount=Decimal("80000000.00"),
    )


def stale_since(deal: Deal):
    return Deal.objects.values_list("stale_since", flat=True).get(pk=deal.pk)


# --- the service --------------------------------------------------------------------------------
def test_a_deal_past_half_as_long_again_as_expected_is_flagged(timed_deal, clock):
    clock.shift(46 * DAY)  # Prospect expects 30 days: overdue after 45
    assert services.deals_flag_stale() == {"flagged": 1, "cleared": 0}
    assert stale_since(timed_deal) == START + 46 * DAY


@pytest.mark.parametrize("days", [31, 45])
def test_a_deal_within_the_margin_is_not_flagged(timed_deal, clock, days):
    clock.shift(days * DAY)
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 0}
    assert stale_since(timed_deal) is None


def test_each_stage_has_its_own_allowance(timed_deal, clock, ready_customer, rm1):
    move(timed_deal, Stage.PRELIMINARY, rm1)  # expected: 21 days, overdue after 31
    prospect = services.deal_create(
        by=rm1, customer=ready_customer, title="另一个项目", project_type="renewable", amount=Decimal("1000000.00")
    )
    clock.shift(32 * DAY)
    assert services.deals_flag_stale()["flagged"] == 1
    assert stale_since(timed_deal) is not None
    assert stale_since(prospect) is None


def test_a_second_run_changes_nothing(timed_deal, clock):
    clock.shift(46 * DAY)
    services.deals_flag_stale()
    clock.shift(DAY)
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 0}
    assert stale_since(timed_deal) == START + 46 * DAY  # still the day it was first flagged


def test_a_move_clears_the_flag_and_restarts_the_clock(timed_deal, clock, rm1):
    clock.shift(46 * DAY)
    services.deals_flag_stale()
    assert move(timed_deal, Stage.PRELIMINARY, rm1).stale_since is None
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 0}
    assert stale_since(timed_deal) is None


def test_a_backward_move_clears_the_flag_too(timed_deal, clock, rm1):
    move(timed_deal, Stage.DUE_DILIGENCE, rm1)
    clock.shift(68 * DAY)  # expected 45, overdue after 67
    services.deals_flag_stale()
    assert stale_since(timed_deal) is not None
    assert move(timed_deal, Stage.PRELIMINARY, rm1).stale_since is None


def test_raising_the_expected_days_clears_the_flag_on_the_next_run(timed_deal, clock):
    clock.shift(46 * DAY)
    services.deals_flag_stale()
    StageSetting.objects.filter(stage=Stage.PROSPECT).update(expected_days=60)
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 1}
    assert stale_since(timed_deal) is None
    clock.shift(45 * DAY)  # 91 days in Prospect now: past 1.5 × 60
    assert services.deals_flag_stale() == {"flagged": 1, "cleared": 0}


def test_lowering_the_expected_days_flags_on_the_next_run(timed_deal, clock):
    clock.shift(16 * DAY)
    assert services.deals_flag_stale()["flagged"] == 0
    StageSetting.objects.filter(stage=Stage.PROSPECT).update(expected_days=10)  # overdue after 15
    assert services.deals_flag_stale() == {"flagged": 1, "cleared": 0}


def test_removing_the_expected_days_clears_the_flag(timed_deal, clock):
    clock.shift(46 * DAY)
    services.deals_flag_stale()
    StageSetting.objects.filter(stage=Stage.PROSPECT).update(expected_days=None)
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 1}
    clock.shift(365 * DAY)
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 0}
    assert stale_since(timed_deal) is None


def test_closed_deals_are_never_flagged(timed_deal, clock, rm1):
    move(timed_deal, Stage.LOST, rm1, lost_reason="pricing")
    clock.shift(400 * DAY)
    assert services.deals_flag_stale() == {"flagged": 0, "cleared": 0}
    assert stale_since(timed_deal) is None


# --- the task -----------------------------------------------------------------------------------
def test_the_task_flags_and_reports(timed_deal, clock):
    clock.shift(46 * DAY)
    assert deals_flag_stale() == {"flagged": 1, "cleared": 0}
    assert deals_flag_stale() == {"flagged": 0, "cleared": 0}


def test_the_task_skips_while_another_run_holds_the_lock(timed_deal, clock):
    clock.shift(46 * DAY)
    with lease_held("deals_flag_stale"):
        assert deals_flag_stale() == {"skipped": True}
        assert stale_since(timed_deal) is None
    assert deals_flag_stale()["flagged"] == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_task_flags_through_a_real_worker(celery_worker, ready_customer, rm1):
    deal = services.deal_create(
        by=rm1,
        customer=ready_customer,
        title="光伏电站二期融资",
        project_type="renewable",
        amount=Decimal("80000000.00"),
    )
    fresh = services.deal_create(
        by=rm1, customer=ready_customer, title="新项目", project_type="renewable", amount=Decimal("1000000.00")
    )
    # 50 days in Prospect (expected 30, overdue after 45), without moving the clock under the worker's feet.
    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=timezone.now() - 50 * DAY)
    deals_flag_stale.delay()
    assert wait_for(lambda: stale_since(deal) is not None, seconds=20), "the worker did not flag the deal"
    assert stale_since(fresh) is None
