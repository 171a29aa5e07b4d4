"""Terms outside the tier policy: requested by the RM, decided once by a team manager, and
covering exactly the terms that were asked for."""

import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from funnel import services
from funnel.exceptions import NotAllowed
from funnel.models import ExceptionStatus, Stage, TermsException
from tests.factories import move, refused, set_terms, tick_all, to_approved, to_due_diligence

pytestmark = pytest.mark.django_db

CHANGE_TERMS = "Change the terms, or ask a team manager to approve an exception for these terms."
SPREAD_PROBLEM = "The rate spread must be at least 80 bp for Tier AA (proposed: 60 bp)."


@pytest.fixture
def cheap_deal(deal, rm1):
    """rm1's deal in Due diligence, checklist done, priced 20 bp under the AA policy."""
    to_due_diligence(deal, rm1)
    tick_all(deal, rm1)
    set_terms(deal, spread_bps=60)
    return deal


def request(deal, by, reason="Strategic customer; the competitor offers 60 bp"):
    deal.refresh_from_db()
    return services.exception_request(deal=deal, by=by, reason=reason)


# --- request ------------------------------------------------------------------------------------
def test_a_request_records_the_terms_it_asks_for(cheap_deal, rm1):
    exc = request(cheap_deal, rm1)
    assert (exc.spread_bps, exc.collateral_coverage, exc.proposed_limit) == (
        60,
        Decimal("50.0"),
        Decimal("80000000.00"),
    )
    assert (exc.status, exc.requested_by, exc.decided_by) == (ExceptionStatus.PENDING, rm1, None)


def test_no_request_for_terms_within_the_policy(deal, rm1):
    to_due_diligence(deal, rm1)
    with pytest.raises(NotAllowed, match=re.escape("The terms are within the tier policy; no exception is needed.")):
        request(deal, rm1)
    assert not TermsException.objects.exists()


def test_a_request_is_possible_in_any_stage_before_approval(deal, rm1):
    set_terms(deal, collateral_coverage=Decimal("40.0"))
    assert request(deal, rm1).status == ExceptionStatus.PENDING


def test_no_request_on_an_approved_deal(deal, rm1):
    approved = to_approved(deal, rm1)
    with pytest.raises(NotAllowed, match=re.escape("Exceptions are requested before approval.")):
        services.exception_request(deal=approved, by=rm1, reason="later")


def test_no_request_on_a_lost_deal(cheap_deal, rm1):
    move(cheap_deal, Stage.LOST, rm1, lost_reason="pricing")
    with pytest.raises(NotAllowed, match=re.escape("Exceptions are requested before approval.")):
        request(cheap_deal, rm1)


def test_only_one_request_per_deal_waits_for_a_decision(cheap_deal, rm1, rm2):
    request(cheap_deal, rm1)
    with pytest.raises(NotAllowed, match="already waiting for a decision"):
        request(cheap_deal, rm2)
    assert TermsException.objects.filter(deal=cheap_deal).count() == 1


def test_the_database_refuses_a_second_pending_request(cheap_deal, rm1):
    first = request(cheap_deal, rm1)
    with pytest.raises(IntegrityError), transaction.atomic():
        TermsException.objects.create(deal=cheap_deal, spread_bps=70, reason="sneaked in", requested_by=rm1)
    assert list(TermsException.objects.filter(deal=cheap_deal)) == [first]


def test_after_a_decision_a_new_request_may_be_made(cheap_deal, rm1, manager):
    services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=False, note="Too cheap")
    set_terms(cheap_deal, spread_bps=70)
    second = request(cheap_deal, rm1)
    assert (second.status, second.spread_bps) == (ExceptionStatus.PENDING, 70)


# --- decide and the Approved gate ---------------------------------------------------------------
def test_without_a_decision_the_approved_gate_still_refuses(cheap_deal, rm1, manager):
    exc = request(cheap_deal, rm1)
    when = date_format(timezone.localtime(exc.requested_at), "SHORT_DATETIME_FORMAT")
    # Naming whom the request waits for, not telling the RM to ask (they have).
    waiting = f"Waiting for a decision from {manager} since {when}."
    assert refused(cheap_deal, Stage.APPROVED, rm1) == [SPREAD_PROBLEM, waiting]


def test_an_approved_exception_lets_the_same_terms_through(cheap_deal, rm1, manager):
    exc = services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=True, note="OK")
    assert (exc.status, exc.decided_by, exc.decision_note) == (ExceptionStatus.APPROVED, manager, "OK")
    assert exc.decided_at is not None
    approved = move(cheap_deal, Stage.APPROVED, rm1)
    assert (approved.stage, approved.spread_bps) == (Stage.APPROVED, 60)


@pytest.mark.parametrize(
    ("terms", "problem"),
    [
        ({"spread_bps": 55}, "The rate spread must be at least 80 bp for Tier AA (proposed: 55 bp)."),
        # Still outside the policy on the spread; the limit changed, so the approval is void.
        ({"proposed_limit": Decimal("70000000.00")}, SPREAD_PROBLEM),
    ],
)
def test_changing_the_terms_after_approval_needs_a_new_approval(cheap_deal, rm1, manager, terms, problem):
    services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=True)
    set_terms(cheap_deal, **terms)
    assert refused(cheap_deal, Stage.APPROVED, rm1) == [problem, CHANGE_TERMS]
    set_terms(cheap_deal, spread_bps=60, proposed_limit=Decimal("80000000.00"))  # back to what was approved
    assert move(cheap_deal, Stage.APPROVED, rm1).stage == Stage.APPROVED


def test_moving_the_terms_into_the_policy_needs_no_exception(cheap_deal, rm1, manager):
    services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=True)
    set_terms(cheap_deal, spread_bps=80)
    assert move(cheap_deal, Stage.APPROVED, rm1).stage == Stage.APPROVED


def test_a_rejected_exception_leaves_the_gate_closed(cheap_deal, rm1, manager):
    exc = services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=False, note="No")
    assert (exc.status, exc.decided_by) == (ExceptionStatus.REJECTED, manager)
    assert refused(cheap_deal, Stage.APPROVED, rm1) == [SPREAD_PROBLEM, CHANGE_TERMS]


def test_an_exception_covers_the_terms_not_the_checklist(cheap_deal, rm1, manager):
    services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=True)
    cheap_deal.refresh_from_db()
    site_visit = cheap_deal.checks.get(item__name="Site visit completed and documented").item
    services.checklist_set(deal=cheap_deal, item=site_visit, by=rm1, done=False)
    assert refused(cheap_deal, Stage.APPROVED, rm1) == [
        "The due-diligence checklist is not complete. Still open: Site visit completed and documented."
    ]


def test_another_deals_exception_does_not_count(cheap_deal, rm1, manager, ready_customer):
    twin = services.deal_create(
        by=rm1, customer=ready_customer, title="孪生项目", project_type="renewable", amount=Decimal("80000000.00")
    )
    to_due_diligence(twin, rm1)
    tick_all(twin, rm1)
    set_terms(twin, spread_bps=60)  # the very same terms
    services.exception_decide(exception=request(cheap_deal, rm1), by=manager, approve=True)
    assert refused(twin, Stage.APPROVED, rm1) == [SPREAD_PROBLEM, CHANGE_TERMS]


@pytest.mark.parametrize("second_approves", [True, False])
def test_a_request_is_decided_once(cheap_deal, rm1, manager, admin_user, second_approves):
    exc = request(cheap_deal, rm1)
    # Both managers opened the request while it was pending.
    seen_by_first = TermsException.objects.get(pk=exc.pk)
    seen_by_second = TermsException.objects.get(pk=exc.pk)
    services.exception_decide(exception=seen_by_first, by=manager, approve=True, note="first")
    with pytest.raises(NotAllowed, match=re.escape("This request has already been decided.")):
        services.exception_decide(exception=seen_by_second, by=admin_user, approve=second_approves, note="second")
    exc.refresh_from_db()
    assert (exc.status, exc.decided_by, exc.decision_note) == (ExceptionStatus.APPROVED, manager, "first")


def test_a_rejected_request_cannot_be_approved_afterwards(cheap_deal, rm1, manager):
    exc = request(cheap_deal, rm1)
    services.exception_decide(exception=exc, by=manager, approve=False)
    with pytest.raises(NotAllowed):
        services.exception_decide(exception=exc, by=manager, approve=True)
    assert refused(cheap_deal, Stage.APPROVED, rm1) == [SPREAD_PROBLEM, CHANGE_TERMS]
