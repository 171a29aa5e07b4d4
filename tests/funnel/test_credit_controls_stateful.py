"""Issue #11: the credit controls under random play. Random sequences of deal edits, moves,
exception requests and decisions by random people (rm1, rm2, the team's two managers, a risk
officer) never fund a deal above its customer's credit limit unless an approved exception names
that amount, and never let one person both ask for an exception and decide it.

Everything goes through the services as the views call them; a caller the view would turn away
(404 or 403) is turned away here by the same access helpers. Each example runs inside a savepoint
rolled back at its end, so every example starts from the same clean state: the cast is made once,
the customer, the deal and all that happens to them per example."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule, run_state_machine_as_test

from crm.roles import Role
from customers.models import Customer
from funnel import services
from funnel.access import can_work_deal, deals_for
from funnel.exceptions import GateNotMet, NotAllowed, StaleDeal
from funnel.models import ChecklistItem, Deal, ExceptionStatus, Stage, TermsException
from funnel.services import FROZEN_FIELDS, Funding
from risk.models import Facility
from tests.factories import CustomerFactory, make_user
from tests.stateful import InSavepoint, machine_settings

pytestmark = pytest.mark.django_db

CREDIT_LIMIT = Decimal("10008000.00")
AMOUNTS = [
    Decimal("1000000.00"),
    Decimal("10008000.00"),
    Decimal("10008000.01"),
    Decimal("15000000.00"),
    Decimal("9000000000.00"),
]
TERMS = {
    "amount": st.sampled_from(AMOUNTS),
    "proposed_limit": st.sampled_from([None, *AMOUNTS]),
    "spread_bps": st.sampled_from([None, 2, 150, 200]),  # tier A policy: at least 150 bp
    "collateral_coverage": st.sampled_from([None, Decimal("0.0"), Decimal("80.0")]),  # at least 80 %
}
PEOPLE = ["rm1", "rm2", "manager", "manager2", "risk"]
# The funded amount asked for: fixed sums, and the limits of the moment and a cent above them.
CENT = Decimal("0.01")
FUNDED = st.sampled_from(["limit", "limit+", "credit", "credit+", *AMOUNTS])
people = st.sampled_from(PEOPLE)


class CreditControls(InSavepoint):
    def __init__(self, cast: dict):
        super().__init__()
        self.cast = cast
        # What the customer's credit limit was when each facility opened, by deal id.
        self.limit_at_funding: dict[int, Decimal | None] = {}

    # --- helpers ------------------------------------------------------------------------------
    def deal(self) -> Deal:
        return Deal.objects.select_related("customer").get(pk=self.deal_id)

    def funded_amount(self, deal: Deal, amount) -> Decimal:
        if isinstance(amount, Decimal):
            return amount
        base = deal.proposed_limit if amount.startswith("limit") else deal.customer.credit_limit
        return (base or Decimal("1000000.00")) + (CENT if amount.endswith("+") else 0)

    def works(self, user) -> bool:
        """Would the deal's pages let ``user`` change it (access_deal with for_update)?"""
        deal = deals_for(user).filter(pk=self.deal_id).first()
        return deal is not None and can_work_deal(user, deal)

    # --- the game -----------------------------------------------------------------------------
    @initialize(start=st.sampled_from([Stage.PROSPECT, Stage.DUE_DILIGENCE, Stage.APPROVED]), ticked=st.booleans())
    def open_deal(self, start, ticked):
        """A new deal of rm1's tier-A customer, started where the interesting moves are near."""
        rm1 = self.cast["rm1"]
        today = timezone.localdate()
        customer = CustomerFactory(
            owner=rm1,
            team=rm1.team,
            tier="A",
            credit_limit=CREDIT_LIMIT,
            credit_report_date=today - datetime.timedelta(days=30),
            statement_date=today - datetime.timedelta(days=90),
        )
        deal = services.deal_create(
            by=rm1, customer=customer, title="屋顶光伏", project_type="renewable", amount=Decimal("5000000.00")
        )
        self.deal_id = deal.pk
        if start != Stage.PROSPECT:
            for stage in (Stage.PRELIMINARY, Stage.DUE_DILIGENCE):
                deal = services.deal_move(deal=deal, to_stage=stage, seen_stage=deal.stage, by=rm1)
        if ticked or start == Stage.APPROVED:
            self.tick_all()
        if start == Stage.APPROVED:
            services.deal_move(deal=deal, to_stage=Stage.APPROVED, seen_stage=deal.stage, by=rm1)

    @rule(who=people, changes=st.fixed_dictionaries({}, optional=TERMS))
    def edit(self, who, changes):
        user = self.cast[who]
        if not self.works(user):
            return
        before = self.deal()
        try:
            services.deal_update(deal=before, by=user, **changes)
        except NotAllowed:
            return
        after = self.deal()
        if before.stage == Stage.APPROVED:
            assert [getattr(after, f) for f in FROZEN_FIELDS] == [getattr(before, f) for f in FROZEN_FIELDS]

    def tick_all(self):
        deal = Deal.objects.get(pk=self.deal_id)
        for item in ChecklistItem.objects.filter(is_active=True):
            try:
                services.checklist_set(deal=deal, item=item, by=self.cast["rm1"], done=True)
            except NotAllowed:
                return

    @rule(who=people, to_stage=st.sampled_from(Stage.values), amount=FUNDED)
    def move(self, who, to_stage, amount):
        self._move(who, to_stage, amount)

    @rule(who=people, amount=FUNDED)
    def advance(self, who, amount):
        """The usual next step (more often than a random target would take it)."""
        following = {
            Stage.PROSPECT: Stage.PRELIMINARY,
            Stage.PRELIMINARY: Stage.DUE_DILIGENCE,
            Stage.DUE_DILIGENCE: Stage.APPROVED,
            Stage.APPROVED: Stage.FUNDED,
        }
        target = following.get(self.deal().stage)
        if target:
            self._move(who, target, amount)

    def _move(self, who, to_stage, amount):
        user = self.cast[who]
        if not self.works(user):
            return
        deal = self.deal()
        funding = None
        if to_stage == Stage.FUNDED:
            funding = Funding(amount=self.funded_amount(deal, amount), start_date=timezone.localdate())
        try:
            services.deal_move(
                deal=deal,
                to_stage=to_stage,
                seen_stage=deal.stage,
                by=user,
                lost_reason="pricing" if to_stage == Stage.LOST else "",
                funding=funding,
            )
        except (GateNotMet, NotAllowed, StaleDeal):
            return
        event(f"moved to {to_stage}")
        if to_stage == Stage.FUNDED:
            self.limit_at_funding[deal.pk] = deal.customer.credit_limit

    @rule(who=people)
    def request_exception(self, who):
        user = self.cast[who]
        if not self.works(user):
            return
        try:
            services.exception_request(deal=self.deal(), by=user, reason="competitor's offer")
        except NotAllowed:
            return

    @rule(who=people, approve=st.booleans())
    def decide(self, who, approve):
        pending = TermsException.objects.filter(deal_id=self.deal_id, status=ExceptionStatus.PENDING).first()
        if pending is None:
            return
        user = self.cast[who]
        try:
            decided = services.exception_decide(exception=pending, by=user, approve=approve, note="")
        except NotAllowed:
            return
        event(f"exception {decided.status} by {who}")
        assert decided.decided_by == user
        assert user.has_perm("funnel.decide_exception")

    @rule(credit_limit=st.sampled_from([None, Decimal("3000000.00"), CREDIT_LIMIT, Decimal("20000000.00")]))
    def regrade(self, credit_limit):
        """The customer is re-graded: its credit limit moves (or goes, when it turns Unrated)."""
        Customer.objects.filter(deals__pk=self.deal_id).update(credit_limit=credit_limit)

    # --- what must always hold ----------------------------------------------------------------
    @invariant()
    def nobody_funds_above_the_credit_limit_without_a_named_exception(self):
        for facility in Facility.objects.filter(deal_id=self.deal_id):
            limit = self.limit_at_funding[facility.deal_id]
            named = TermsException.objects.filter(
                deal_id=facility.deal_id, status=ExceptionStatus.APPROVED, proposed_limit__gte=facility.drawn
            ).exists()
            assert (limit is not None and facility.drawn <= limit) or named, (facility.drawn, limit)
            assert facility.drawn <= facility.limit

    @invariant()
    def nobody_decides_their_own_request_or_their_own_deals(self):
        decided = TermsException.objects.exclude(status=ExceptionStatus.PENDING)
        assert not decided.filter(decided_by=F("requested_by")).exists()
        assert not decided.filter(decided_by=F("deal__owner")).exists()
        assert not decided.filter(decided_by__isnull=True).exists()

    @invariant()
    def an_approved_or_funded_deal_has_a_limit(self):
        assert not Deal.objects.filter(stage__in=[Stage.APPROVED, Stage.FUNDED], proposed_limit__isnull=True).exists()


def test_credit_controls_hold_under_random_play(team):
    cast = {
        "rm1": make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm1"),
        "rm2": make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm2"),
        "manager": make_user(Role.TEAM_MANAGER, team=team, username="manager"),
        "manager2": make_user(Role.TEAM_MANAGER, team=team, username="manager2"),
        "risk": make_user(Role.RISK_OFFICER, username="risk"),
    }
    run_state_machine_as_test(
        lambda: CreditControls(cast),
        settings=machine_settings(examples=50, steps=20),
    )
