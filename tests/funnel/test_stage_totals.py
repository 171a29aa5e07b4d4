"""The stage totals (funnel.models.StageTotal) stay equal to the deals whatever writes them: the
services, plain ORM saves and bulk statements, deletes, and the trigger that moves deals with
their customer. The triggers are in migration 0008."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from customers.services import customer_update
from funnel import services
from funnel.models import Deal, Stage, StageSetting, StageTotal
from tests.conftest import closed_totals_kept, closed_totals_live, stage_totals_kept, stage_totals_live
from tests.factories import DealFactory, move

pytestmark = pytest.mark.django_db


def test_a_new_deal_is_counted_in_its_stage(ready_customer, rm1):
    services.deal_create(
        by=rm1, customer=ready_customer, title="光伏", project_type="renewable", amount=Decimal("80000000.00")
    )
    total = StageTotal.objects.get(owner_id=rm1.pk, team_id=rm1.team_id, stage=Stage.PROSPECT)
    assert (total.count, total.amount, total.weighted) == (1, Decimal("80000000.00"), Decimal("800000000.00"))
    assert stage_totals_kept() == stage_totals_live()


def test_a_move_takes_the_deal_from_one_stage_to_the_next(deal, rm1):
    DealFactory(customer=deal.customer, amount=Decimal("1000000.00"))  # stays in Prospect
    move(deal, Stage.PRELIMINARY, rm1)
    kept = stage_totals_kept()
    key = (rm1.pk, rm1.team_id)
    assert kept[(*key, Stage.PROSPECT)] == (1, Decimal("1000000.00"), Decimal("10000000.00"))
    probability = StageSetting.objects.get(stage=Stage.PRELIMINARY).probability
    assert kept[(*key, Stage.PRELIMINARY)] == (1, Decimal("80000000.00"), Decimal("80000000.00") * probability)
    assert kept == stage_totals_live()


def test_editing_the_amount_or_probability_changes_the_sums(deal, rm1):
    services.deal_update(deal=deal, by=rm1, amount=Decimal("90000000.50"), probability=35)
    assert stage_totals_kept() == {
        (rm1.pk, rm1.team_id, Stage.PROSPECT): (1, Decimal("90000000.50"), Decimal("3150000017.50"))
    }


def test_deleted_deals_leave_the_totals(customer, other_customer):
    first, *_ = DealFactory.create_batch(3, customer=customer)
    DealFactory.create_batch(2, customer=other_customer, stage=Stage.DUE_DILIGENCE)
    first.delete()
    Deal.objects.filter(customer=other_customer).delete()
    assert stage_totals_kept() == stage_totals_live()
    assert sum(count for count, _, _ in stage_totals_kept().values()) == 2


def test_bulk_statements_are_counted(customer, other_customer, west_customer):
    Deal.objects.bulk_create(
        DealFactory.build(customer=c, amount=Decimal(amount), probability=p, created_by=c.owner)
        for c, amount, p in ((customer, "100.10", 10), (other_customer, "200.20", 0), (west_customer, "300.30", 100))
    )
    Deal.objects.filter(customer=customer).update(stage=Stage.PRELIMINARY, amount=F("amount") * 2)
    Deal.objects.filter(customer__in=[other_customer, west_customer]).update(probability=F("probability") + 0)
    Deal.objects.filter(customer=west_customer).update(stage=Stage.LOST, lost_reason="pricing", probability=0)
    kept = stage_totals_kept()
    assert kept == stage_totals_live()
    assert kept[(customer.owner_id, customer.team_id, Stage.PRELIMINARY)] == (
        1,
        Decimal("200.20"),
        Decimal("2002.00"),
    )


def test_reassigning_a_customer_moves_its_deals_totals(customer, rm1, rm_west):
    DealFactory(customer=customer)
    DealFactory(customer=customer, stage=Stage.DUE_DILIGENCE, amount=Decimal("5000000.00"), probability=50)
    customer_update(customer=customer, by=rm1, owner=rm_west)
    kept = stage_totals_kept()
    assert kept == stage_totals_live()
    assert {(owner, team) for owner, team, _ in kept} == {(rm_west.pk, rm_west.team_id)}


def test_updates_that_leave_the_totals_alone_write_none(customer):
    """The UPDATE trigger on PostgreSQL runs for every UPDATE of deals (a trigger with transition
    tables takes no column list); one that leaves owner, team, stage, amount and probability as
    they were, like the daily job flagging stale deals, must not rewrite (nor lock) a total."""
    long_ago = timezone.now() - datetime.timedelta(days=400)
    DealFactory.create_batch(3, customer=customer, stage_entered_at=long_ago)
    before, versions = stage_totals_kept(), row_versions()
    assert services.deals_flag_stale()["flagged"] == 3
    Deal.objects.update(title="改名", amount=F("amount"), probability=F("probability"))
    assert row_versions() == versions
    assert stage_totals_kept() == before == stage_totals_live()


def row_versions() -> list[str]:
    """Where each total's row version lies. On PostgreSQL an UPDATE, even one that changes no
    value, writes a new version at a new ctid. SQLite's UPDATE trigger names its columns and
    fires only when one changed: there is nothing to see."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM funnel_stagetotal ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_emptying_the_deal_table_empties_the_totals(customer):
    DealFactory.create_batch(2, customer=customer)
    DealFactory(customer=customer, stage="lost", lost_reason="pricing")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's transaction holds deferred foreign-key checks, which TRUNCATE refuses.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE funnel_deal CASCADE")
        else:  # SQLite has no TRUNCATE; its DELETE without WHERE runs the row triggers.
            cursor.execute("DELETE FROM funnel_deal")
    assert stage_totals_kept() == {} == stage_totals_live()
    assert closed_totals_kept() == {} == closed_totals_live()
    DealFactory(customer=customer)
    DealFactory(customer=customer, stage="funded")
    assert stage_totals_kept() == stage_totals_live()
    assert closed_totals_kept() == closed_totals_live() != {}
