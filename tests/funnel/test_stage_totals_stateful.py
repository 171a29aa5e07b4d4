"""The stage totals under random play: deals created one by one and in bulk, moved, edited,
bulk-updated, deleted, and their customers handed to another RM (or team), in any order. After
every step the totals the triggers keep equal the deals summed per (owner, team, stage).

Each example runs inside a savepoint rolled back at its end (the triggers' writes with it), so
every example starts from no deals; the cast and the customers are made once."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from crm.roles import Role
from customers.models import Customer
from customers.services import customer_update
from funnel import services
from funnel.models import Deal, Stage
from tests.conftest import closed_totals_kept, closed_totals_live, stage_totals_kept, stage_totals_live
from tests.factories import CustomerFactory, DealFactory, make_user
from tests.stateful import InSavepoint, machine_settings

pytestmark = pytest.mark.django_db

# Cents and large sums (SQLite keeps these as floating point: the sums must stay exact to the cent).
AMOUNTS = [Decimal("0.01"), Decimal("1000000.00"), Decimal("12345678.91"), Decimal("99999999.99")]
amounts = st.sampled_from(AMOUNTS)
probabilities = st.sampled_from([0, 10, 35, 100])
stages = st.sampled_from(Stage.values)
RMS = ["rm1", "rm2", "rm_west"]
CUSTOMERS = 4
picks = st.integers(min_value=0, max_value=10**6)  # which deal: taken modulo the deals there are


class StageTotals(InSavepoint):
    def __init__(self, cast: dict, customers: list[Customer]):
        super().__init__()
        self.cast = cast
        self.customers = customers

    def customer(self, i: int) -> Customer:
        return Customer.objects.get(pk=self.customers[i].pk)  # its owner now, after reassignments

    def pick(self, i: int) -> Deal | None:
        ids = list(Deal.objects.order_by("pk").values_list("pk", flat=True))
        return Deal.objects.get(pk=ids[i % len(ids)]) if ids else None

    # --- the game -----------------------------------------------------------------------------
    @rule(c=st.integers(0, CUSTOMERS - 1), amount=amounts)
    def create(self, c, amount):
        """As the deal form does (Prospect, the stage's probability)."""
        customer = self.customer(c)
        services.deal_create(
            by=self.cast["rm1"], customer=customer, title="光伏", project_type="renewable", amount=amount
        )

    @rule(
        rows=st.lists(st.tuples(st.integers(0, CUSTOMERS - 1), amounts, probabilities, stages), min_size=1, max_size=4)
    )
    def create_in_bulk(self, rows):
        """One multi-row INSERT (an import, a seed), deals in any stage."""
        deals = []
        for c, amount, probability, stage in rows:
            customer = self.customer(c)
            deals.append(
                DealFactory.build(
                    customer=customer,
                    created_by=customer.owner,
                    amount=amount,
                    probability=probability,
                    stage=stage,
                    lost_reason="pricing" if stage == Stage.LOST else "",
                )
            )
        Deal.objects.bulk_create(deals)

    @rule(i=picks, stage=stages, probability=probabilities)
    def move(self, i, stage, probability):
        deal = self.pick(i)
        if deal is not None:
            Deal.objects.filter(pk=deal.pk).update(
                stage=stage, probability=probability, lost_reason="pricing" if stage == Stage.LOST else ""
            )

    @rule(i=picks, amount=amounts, probability=probabilities)
    def edit(self, i, amount, probability):
        """A full save(), as Django admin does: every column written, some changed."""
        deal = self.pick(i)
        if deal is not None:
            deal.amount, deal.probability = amount, probability
            deal.save()

    @rule(from_stage=stages, to_stage=stages)
    def move_in_bulk(self, from_stage, to_stage):
        Deal.objects.filter(stage=from_stage).exclude(stage=Stage.LOST).update(
            stage=to_stage, lost_reason="pricing" if to_stage == Stage.LOST else ""
        )

    @rule(rm=st.sampled_from(RMS), cents=st.sampled_from([Decimal("0.01"), Decimal("-0.01"), Decimal("0")]))
    def reprice_in_bulk(self, rm, cents):
        Deal.objects.filter(owner=self.cast[rm], amount__gt=Decimal("0.01")).update(amount=F("amount") + cents)

    @rule()
    def touch_everything(self):
        """An UPDATE of every deal that changes none of the five columns (the stale-deal job)."""
        Deal.objects.update(title=F("title"), probability=F("probability"))

    @rule(i=picks)
    def delete(self, i):
        deal = self.pick(i)
        if deal is not None:
            deal.delete()

    @rule(stage=stages)
    def delete_in_bulk(self, stage):
        Deal.objects.filter(stage=stage).delete()

    @rule(c=st.integers(0, CUSTOMERS - 1), rm=st.sampled_from(RMS))
    def reassign(self, c, rm):
        """The customer's deals follow it (trigger funnel_deal_follow_customer), to another RM of
        the team or of another team."""
        customer_update(customer=self.customer(c), by=self.cast["risk"], owner=self.cast[rm])

    # --- what must always hold ----------------------------------------------------------------
    @rule(i=picks, days=st.integers(0, 200), hour=st.sampled_from([0, 15, 23]))
    def backdate(self, i, days, hour):
        """A deal's stage entered on another day (a data fix, an import of history): a closed
        one moves between day totals, an open one's totals stay."""
        deal = self.pick(i)
        if deal is not None:
            entered = timezone.now().replace(hour=hour, minute=30) - datetime.timedelta(days=days)
            Deal.objects.filter(pk=deal.pk).update(stage_entered_at=entered)

    @invariant()
    def totals_equal_the_deals(self):
        assert stage_totals_kept() == stage_totals_live()
        assert closed_totals_kept() == closed_totals_live()


def test_stage_totals_equal_the_deals_under_random_play(team, other_team):
    cast = {
        "rm1": make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm1"),
        "rm2": make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm2"),
        "rm_west": make_user(Role.RELATIONSHIP_MANAGER, team=other_team, username="rm_west"),
        "risk": make_user(Role.RISK_OFFICER, username="risk"),
    }
    owners = [cast["rm1"], cast["rm1"], cast["rm2"], cast["rm_west"]]
    customers = [CustomerFactory(owner=rm, team=rm.team) for rm in owners]
    run_state_machine_as_test(
        lambda: StageTotals(cast, customers),
        settings=machine_settings(examples=60, steps=25),
    )
