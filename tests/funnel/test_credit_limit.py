"""Issue #11, finding 1: nobody funds a deal above its customer's credit limit. An approved
deal's terms are fixed, an exception covers only the terms it states (an empty one covers
nothing), and the funded amount stays under the smaller of the credit limit and the approved
limit unless an approved exception names a higher limit."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from funnel import services
from funnel.exceptions import GateNotMet, NotAllowed
from funnel.models import ChecklistItem, Deal, ExceptionStatus, Stage, TermsException
from funnel.services import Funding
from risk.models import Facility
from tests.factories import to_approved

pytestmark = pytest.mark.django_db

CREDIT_LIMIT = Decimal("10008000.00")
FIXED = "The terms of an approved deal are fixed. Move it back to Due diligence to change them."


@pytest.fixture
def tier_a_customer(ready_customer):
    """rm1's tier-A customer with a credit limit of 10,008,000 (policy: ≥ 150 bp, ≥ 80 %)."""
    Customer.objects.filter(pk=ready_customer.pk).update(tier="A", credit_limit=CREDIT_LIMIT)
    ready_customer.refresh_from_db()
    return ready_customer


@pytest.fixture
def dd_deal(tier_a_customer, rm1):
    """rm1's deal in Due diligence with the tier-A policy's terms and a 5,000,000 limit."""
    deal = services.deal_create(
        by=rm1, customer=tier_a_customer, title="屋顶光伏", project_type="renewable", amount=Decimal("5000000.00")
    )
    for stage in (Stage.PRELIMINARY, Stage.DUE_DILIGENCE):
        deal = services.deal_move(deal=deal, to_stage=stage, seen_stage=deal.stage, by=rm1)
    return deal


def url(name: str, deal: Deal, *args) -> str:
    return reverse(f"funnel:{name}", args=[deal.code, *args])


def edit_form(deal: Deal, **changes) -> dict:
    """The deal's edit form as the browser posts it, with ``changes`` typed in."""
    deal.refresh_from_db()
    data = {
        "title": deal.title,
        "project_type": deal.project_type,
        "amount": deal.amount,
        "purpose": deal.purpose,
        "expected_close": "",
        "probability": deal.probability,
        "spread_bps": deal.spread_bps,
        "collateral_coverage": deal.collateral_coverage,
        "proposed_limit": deal.proposed_limit,
    }
    data.update(changes)
    return {k: "" if v is None else str(v) for k, v in data.items()}


def tick_all_over_http(client, deal: Deal) -> None:
    for item in ChecklistItem.objects.filter(is_active=True):
        assert client.post(url("checklist", deal), {"item": item.pk, "done": "on"}).status_code == 302


def fund_over_http(client, deal: Deal, amount: str):
    return client.post(
        url("move", deal),
        {
            "to_stage": "funded",
            "seen_stage": "approved",
            "funded_amount": amount,
            "start_date": timezone.localdate().isoformat(),
        },
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the finding, step by step as reported ------------------------------------------------------
def test_finding_1_cleared_limit_exception_then_amount_raised_after_approval_funds_nothing(
    client, rm1, manager, dd_deal
):
    client.force_login(rm1)
    # rm1 clears the proposed limit and sets the amount to 1,000,000 (before approval: allowed).
    response = client.post(url("edit", dd_deal), edit_form(dd_deal, proposed_limit=None, amount="1000000.00"))
    assert response.status_code == 302
    dd_deal.refresh_from_db()
    assert (dd_deal.amount, dd_deal.proposed_limit) == (Decimal("1000000.00"), None)

    # ... and asks for an exception: refused, an exception with an empty limit would cover nothing.
    response = client.post(url("exception_request", dd_deal), {"reason": "战略客户"}, follow=True)
    assert "Fill in the rate spread, the collateral coverage and the proposed limit first" in response.content.decode()
    assert not TermsException.objects.exists()

    # The manager finds nothing to approve.
    client.force_login(manager)
    assert 'data-testid="decide-form"' not in client.get(url("detail", dd_deal)).content.decode()

    # rm1 ticks the checklist and moves to Approved: refused, the deal has no limit.
    client.force_login(rm1)
    tick_all_over_http(client, dd_deal)
    response = client.post(url("move", dd_deal), {"to_stage": "approved", "seen_stage": "due_diligence"})
    assert response.status_code == 422
    assert "The deal has no proposed limit." in response.content.decode()

    # The edit to 9,000,000,000 lands on a deal still in Due diligence; funding it is refused.
    client.post(url("edit", dd_deal), edit_form(dd_deal, amount="9000000000.00"))
    response = fund_over_http(client, dd_deal, "9000000000.00")
    assert response.status_code in (409, 422)
    dd_deal.refresh_from_db()
    assert dd_deal.stage == Stage.DUE_DILIGENCE
    assert not Facility.objects.exists()


def test_finding_1_an_exception_stored_with_an_empty_limit_lets_nothing_through(client, rm1, manager, dd_deal):
    """The request as the old code stored it (limit NULL), approved by the manager over HTTP:
    it covers no deal, least of all one whose limit is empty too."""
    Deal.objects.filter(pk=dd_deal.pk).update(proposed_limit=None, amount=Decimal("1000000.00"))
    legacy = TermsException.objects.create(
        deal=dd_deal,
        spread_bps=150,
        collateral_coverage=Decimal("80.0"),
        proposed_limit=None,
        reason="旧",
        requested_by=rm1,
    )
    client.force_login(manager)
    client.post(url("exception_decide", dd_deal, legacy.code), {"decision": "approve"})
    legacy.refresh_from_db()
    assert legacy.status == ExceptionStatus.APPROVED

    client.force_login(rm1)
    tick_all_over_http(client, dd_deal)
    response = client.post(url("move", dd_deal), {"to_stage": "approved", "seen_stage": "due_diligence"})
    assert response.status_code == 422
    assert "The deal has no proposed limit." in response.content.decode()
    assert Deal.objects.get(pk=dd_deal.pk).stage == Stage.DUE_DILIGENCE


def test_finding_1_the_amount_cannot_be_raised_after_approval(client, rm1, dd_deal):
    """Approved with a 1,000,000 limit inside the policy; the edit to 9,000,000,000 changes
    nothing and funding 9,000,000,000 is refused."""
    services.deal_update(deal=dd_deal, by=rm1, amount=Decimal("1000000.00"), proposed_limit=Decimal("1000000.00"))
    client.force_login(rm1)
    tick_all_over_http(client, dd_deal)
    assert client.post(url("move", dd_deal), {"to_stage": "approved", "seen_stage": "due_diligence"}).status_code == 302

    page = client.get(url("edit", dd_deal)).content.decode()
    assert re.search(r'name="amount"[^>]*disabled', page)
    client.post(url("edit", dd_deal), edit_form(dd_deal, amount="9000000000.00", proposed_limit="9000000000.00"))
    dd_deal.refresh_from_db()
    assert (dd_deal.amount, dd_deal.proposed_limit) == (Decimal("1000000.00"), Decimal("1000000.00"))

    response = fund_over_http(client, dd_deal, "9000000000.00")
    assert response.status_code == 422
    assert "The funded amount is above the approved limit of 1,000,000.00 CNY." in response.content.decode()
    assert not Facility.objects.exists()


# --- terms that hold ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("9000000000.00")},
        {"proposed_limit": Decimal("9000000.00")},
        {"proposed_limit": None},
        {"spread_bps": 2},
        {"collateral_coverage": Decimal("0.0")},
    ],
    ids=["amount", "limit", "no-limit", "spread", "collateral"],
)
def test_the_service_refuses_to_change_an_approved_deals_terms(dd_deal, rm1, manager, change):
    approved = to_approved(dd_deal, rm1)
    with pytest.raises(NotAllowed, match=re.escape(FIXED)):
        services.deal_update(deal=approved, by=manager, **change)
    dd_deal.refresh_from_db()
    assert (dd_deal.amount, dd_deal.proposed_limit, dd_deal.spread_bps) == (
        Decimal("5000000.00"),
        Decimal("5000000.00"),
        150,
    )


def test_the_title_of_an_approved_deal_can_still_change(dd_deal, rm1):
    approved = to_approved(dd_deal, rm1)
    assert services.deal_update(deal=approved, by=rm1, title="屋顶光伏（一期）") == ["title"]


def test_moved_back_to_due_diligence_the_terms_change_and_must_be_approved_again(dd_deal, rm1):
    approved = to_approved(dd_deal, rm1)
    back = services.deal_move(deal=approved, to_stage=Stage.DUE_DILIGENCE, seen_stage=Stage.APPROVED, by=rm1)
    services.deal_update(deal=back, by=rm1, proposed_limit=Decimal("20000000.00"))
    with pytest.raises(GateNotMet) as info:
        services.deal_move(deal=back, to_stage=Stage.APPROVED, seen_stage=Stage.DUE_DILIGENCE, by=rm1)
    assert "The proposed limit is above the customer's credit limit of 10,008,000.00 CNY." in info.value.problems


def test_admin_shows_an_approved_deals_terms_read_only_and_cannot_change_them(client, admin_user, dd_deal, rm1):
    approved = to_approved(dd_deal, rm1)
    client.force_login(admin_user)
    change = reverse("admin:funnel_deal_change", args=[approved.pk])
    page = client.get(change).content.decode()
    assert 'name="amount"' not in page
    assert 'name="proposed_limit"' not in page
    client.post(
        change,
        {
            "title": approved.title,
            "project_type": approved.project_type,
            "amount": "9000000000.00",
            "proposed_limit": "9000000000.00",
            "probability": approved.probability,
            "spread_bps": "2",
            "collateral_coverage": "0",
            "moves-TOTAL_FORMS": "0",
            "moves-INITIAL_FORMS": "0",
        },
    )
    approved.refresh_from_db()
    assert (approved.amount, approved.proposed_limit, approved.spread_bps) == (
        Decimal("5000000.00"),
        Decimal("5000000.00"),
        150,
    )


def test_admin_edits_go_through_the_service_which_refuses_a_deal_approved_meanwhile(rf, admin_user, dd_deal, rm1):
    """The admin form was loaded while the deal was in Due diligence; it is saved after the
    deal was approved. deal_update judges the stage under the row lock and refuses."""
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.fallback import FallbackStorage

    model_admin = site._registry[Deal]
    loaded = Deal.objects.get(pk=dd_deal.pk)
    form_class = model_admin.get_form(None, loaded)  # the form the admin got: terms editable
    to_approved(dd_deal, rm1)
    data = edit_form(loaded, amount="9000000000.00")
    data["customer"] = loaded.customer_id
    form = form_class(data, instance=loaded)
    assert form.is_valid(), form.errors
    request = rf.post("/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    assert [str(m) for m in request._messages] == [FIXED]
    assert Deal.objects.get(pk=dd_deal.pk).amount == Decimal("5000000.00")


# --- exceptions state what they cover -----------------------------------------------------------
@pytest.mark.parametrize("empty", ["spread_bps", "collateral_coverage", "proposed_limit"])
def test_an_empty_term_covers_nothing_not_even_an_empty_term(dd_deal, rm1, manager, empty):
    exc = TermsException(
        deal=dd_deal,
        spread_bps=150,
        collateral_coverage=Decimal("80.0"),
        proposed_limit=Decimal("5000000.00"),
        status=ExceptionStatus.APPROVED,
        requested_by=rm1,
        decided_by=manager,
    )
    assert exc.covers(dd_deal)
    setattr(exc, empty, None)
    setattr(dd_deal, empty, None)
    assert not exc.covers(dd_deal)


def test_an_exception_is_not_requested_for_an_empty_term(dd_deal, rm1):
    services.deal_update(deal=dd_deal, by=rm1, proposed_limit=None)
    with pytest.raises(NotAllowed, match="an exception covers only the terms it states"):
        services.exception_request(deal=dd_deal, by=rm1, reason="x")
    assert not TermsException.objects.exists()


# --- the funding ceiling ------------------------------------------------------------------------
def fund(deal: Deal, by, amount: str) -> Deal:
    deal.refresh_from_db()
    return services.deal_move(
        deal=deal,
        to_stage=Stage.FUNDED,
        seen_stage=deal.stage,
        by=by,
        funding=Funding(amount=Decimal(amount), start_date=datetime.date(2026, 7, 1)),
    )


def test_a_lower_credit_limit_since_approval_caps_the_funding(dd_deal, rm1):
    approved = to_approved(dd_deal, rm1)
    Customer.objects.filter(pk=approved.customer_id).update(credit_limit=Decimal("3000000.00"))  # re-graded
    with pytest.raises(GateNotMet) as info:
        fund(approved, rm1, "3000000.01")
    assert info.value.problems == [
        "The funded amount is above the customer's credit limit of 3,000,000.00 CNY. "
        "Only an approved exception that names a higher limit allows more."
    ]
    assert fund(approved, rm1, "3000000.00").stage == Stage.FUNDED
    assert Facility.objects.get().drawn == Decimal("3000000.00")


def test_without_a_credit_limit_nothing_is_funded(dd_deal, rm1):
    approved = to_approved(dd_deal, rm1)
    Customer.objects.filter(pk=approved.customer_id).update(credit_limit=None)
    with pytest.raises(GateNotMet) as info:
        fund(approved, rm1, "1.00")
    assert info.value.problems == [
        "华东光伏电站项目有限公司 has no credit limit, so nothing can be funded until it is graded."
    ]


def test_an_exception_that_names_a_higher_limit_raises_the_ceiling_to_that_limit(dd_deal, rm1, manager):
    services.deal_update(deal=dd_deal, by=rm1, amount=Decimal("15000000.00"), proposed_limit=Decimal("15000000.00"))
    exc = services.exception_request(deal=dd_deal, by=rm1, reason="集团担保")
    services.exception_decide(exception=exc, by=manager, approve=True)
    approved = to_approved(Deal.objects.get(pk=dd_deal.pk), rm1)
    with pytest.raises(GateNotMet) as info:
        fund(approved, rm1, "15000000.01")
    assert info.value.problems == ["The funded amount is above the approved limit of 15,000,000.00 CNY."]
    assert fund(approved, rm1, "15000000.00").stage == Stage.FUNDED
