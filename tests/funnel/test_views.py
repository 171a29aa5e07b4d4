"""The deal pages and actions: every state-changing view rejects GET (or serves only its form),
needs login, gives outsiders a 404, and does its job."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from funnel import services
from funnel.models import ChecklistCheck, ChecklistItem, Deal, DealDocument, StageMove, TermsException
from tests.factories import DealFactory, make_user, to_approved

pytestmark = pytest.mark.django_db


def url(name: str, deal: Deal, *args) -> str:
    return reverse(f"funnel:{name}", args=[deal.code, *args])


# --- detail -------------------------------------------------------------------------------------
def test_owner_sees_the_deal_page_with_its_timeline(client, rm1, deal):
    client.force_login(rm1)
    response = client.get(url("detail", deal))
    html = response.content.decode()
    assert response.status_code == 200
    assert deal.title in html
    assert "Created in Prospect identified" in html
    assert "Ready for Preliminary assessment" in html  # the customer has the evidence


def test_teammate_and_other_team_get_404(client, rm2, rm_west, deal):
    for user in (rm2, rm_west):
        client.force_login(user)
        assert client.get(url("detail", deal)).status_code == 404


def test_manager_and_risk_officer_can_read_the_deal(client, manager, risk_officer, deal):
    for user in (manager, risk_officer):
        client.force_login(user)
        assert client.get(url("detail", deal)).status_code == 200


def test_detail_says_what_the_next_stage_still_needs(client, rm1, bare_customer):
    deal = DealFactory(customer=bare_customer)
    client.force_login(rm1)
    html = client.get(url("detail", deal)).content.decode()
    assert "Before Preliminary assessment" in html
    assert "needs a credit report" in html


# --- create and edit ----------------------------------------------------------------------------
def test_rm_creates_a_deal_with_terms_from_the_tier_policy(client, rm1, ready_customer):
    client.force_login(rm1)
    response = client.post(
        reverse("funnel:create"),
        {
            "customer": ready_customer.credit_code.lower(),  # typed in lower case
            "title": "风电场并网工程",
            "project_type": "renewable",
            "amount": "120000000.00",
        },
    )
    deal = Deal.objects.get(title="风电场并网工程")
    assert response.status_code == 302
    assert response["Location"] == url("detail", deal)
    assert (deal.customer, deal.owner, deal.stage) == (ready_customer, rm1, "prospect")
    assert (deal.spread_bps, deal.collateral_coverage) == (80, Decimal("50.0"))  # tier AA policy
    assert deal.proposed_limit == Decimal("120000000.00")
    assert StageMove.objects.filter(deal=deal, from_stage="", to_stage="prospect").exists()


def test_a_deal_title_with_a_line_break_is_refused(client, rm1, ready_customer):
    client.force_login(rm1)
    data = {"customer": ready_customer.credit_code, "project_type": "road", "amount": "1000"}
    response = client.post(reverse("funnel:create"), {**data, "title": "风电场\r\nBcc: x@example.com"})
    assert response.status_code == 200
    assert response.context["form"].errors["title"]
    assert not Deal.objects.exists()


def test_rm_cannot_create_a_deal_for_someone_elses_customer(client, rm1, other_customer):
    client.force_login(rm1)
    response = client.post(
        reverse("funnel:create"),
        {"customer": other_customer.credit_code, "title": "x", "project_type": "road", "amount": "1000"},
    )
    assert response.status_code == 200
    assert "No customer of yours has this credit code" in response.content.decode()
    assert not Deal.objects.exists()
    assert client.get(reverse("funnel:create"), {"customer": other_customer.code}).status_code == 404
    assert client.get(reverse("funnel:create"), {"customer": "not-a-code"}).status_code == 404


def test_create_refuses_a_zero_amount(client, rm1, ready_customer):
    client.force_login(rm1)
    response = client.post(
        reverse("funnel:create"),
        {"customer": ready_customer.credit_code, "title": "x", "project_type": "road", "amount": "0"},
    )
    assert "The amount must be more than zero." in response.content.decode()
    assert not Deal.objects.exists()


def test_risk_officer_reads_deals_but_does_not_create_or_move_them(client, risk_officer, deal):
    client.force_login(risk_officer)
    assert client.get(reverse("funnel:create")).status_code == 403
    response = client.post(url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect"})
    assert response.status_code == 403
    assert Deal.objects.get(pk=deal.pk).stage == "prospect"


def test_owner_edits_the_deal(client, rm1, deal):
    client.force_login(rm1)
    response = client.post(
        url("edit", deal),
        {
            "title": "光伏电站二期融资（修订）",
            "project_type": "renewable",
            "amount": "90000000.00",
            "probability": "15",
            "spread_bps": "90",
            "collateral_coverage": "60.0",
            "proposed_limit": "90000000.00",
        },
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.amount, deal.spread_bps) == ("光伏电站二期融资（修订）", Decimal("90000000.00"), 90)


def test_teammate_cannot_edit(client, rm2, deal):
    client.force_login(rm2)
    assert client.get(url("edit", deal)).status_code == 404
    assert client.post(url("edit", deal), {"title": "hijack"}).status_code == 404


# --- move ---------------------------------------------------------------------------------------
def test_move_without_javascript_redirects_to_the_deal(client, rm1, deal):
    client.force_login(rm1)
    response = client.post(url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect", "note": "材料齐全"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "preliminary"
    page = client.get(url("detail", deal)).content.decode()
    assert "Moved to Preliminary assessment." in page
    assert "材料齐全" in page


def test_refused_move_explains_the_gate(client, rm1, bare_customer):
    deal = DealFactory(customer=bare_customer)
    client.force_login(rm1)
    response = client.post(url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect"})
    assert response.status_code == 422
    assert "needs a credit report" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).stage == "prospect"


def test_board_drop_answers_with_a_confirmation_and_an_event(client, rm1, deal):
    client.force_login(rm1)
    response = client.post(
        url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "deal-moved"
    assert "Moved “光伏电站二期融资” to Preliminary assessment." in response.content.decode()


def test_move_from_an_old_board_is_a_conflict_naming_who_moved_it(client, rm1, manager, deal):
    client.force_login(manager)
    client.post(url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect"})
    client.force_login(rm1)
    response = client.post(
        url("move", deal),
        {"to_stage": "lost", "seen_stage": "prospect", "lost_reason": "pricing"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert f"{manager} moved this deal to Preliminary assessment" in html
    assert Deal.objects.get(pk=deal.pk).stage == "preliminary"


def moves_of(deal: Deal) -> list[tuple]:
    return list(StageMove.objects.filter(deal=deal).order_by("at", "id").values_list("from_stage", "to_stage", "by"))


def conflict_text(move: StageMove, stage_label: str) -> str:
    """The 409 sentence, with the move's time as the page shows it (local time, short format)."""
    when = date_format(timezone.localtime(move.at), "SHORT_DATETIME_FORMAT")
    return f"{move.by} moved this deal to {stage_label} at {when}. Your move was not applied."


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}], ids=["form", "board"])
def test_move_back_from_a_page_loaded_before_the_deal_was_funded_is_a_conflict_naming_who_funded_it(
    client, rm1, manager, deal, headers
):
    """Due diligence is no target from Funded at all; what rm1 needs to hear is that the manager
    funded the deal meanwhile, not that the field is wrong."""
    approved = to_approved(deal, rm1)
    services.deal_move(
        deal=approved,
        to_stage="funded",
        seen_stage="approved",
        by=manager,
        funding=services.Funding(amount=approved.proposed_limit, start_date=timezone.localdate()),
    )
    before = moves_of(deal)
    client.force_login(rm1)
    response = client.post(url("move", deal), {"to_stage": "due_diligence", "seen_stage": "approved"}, headers=headers)
    html = response.content.decode()
    assert response.status_code == 409
    assert conflict_text(StageMove.objects.get(deal=deal, to_stage="funded"), "Funded") in html
    assert "Select a valid choice" not in html
    assert Deal.objects.get(pk=deal.pk).stage == "funded"
    assert moves_of(deal) == before
    assert before[-1] == ("approved", "funded", manager.pk)


def test_stale_drop_onto_the_column_the_deal_is_now_in_is_a_conflict(client, rm1, manager, deal):
    services.deal_move(deal=deal, to_stage="preliminary", seen_stage="prospect", by=manager)
    client.force_login(rm1)
    response = client.post(
        url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert conflict_text(StageMove.objects.get(deal=deal, by=manager), "Preliminary assessment") in html
    assert "Please correct the fields below." not in html
    assert moves_of(deal) == [("", "prospect", rm1.pk), ("prospect", "preliminary", manager.pk)]


def test_stale_form_is_a_conflict_before_its_missing_details(client, rm1, manager, deal):
    """A Lost without a reason would be a 422 on a current form; on a stale one the reason does
    not matter any more."""
    services.deal_move(deal=deal, to_stage="preliminary", seen_stage="prospect", by=manager)
    client.force_login(rm1)
    response = client.post(url("move", deal), {"to_stage": "lost", "seen_stage": "prospect"})
    html = response.content.decode()
    assert response.status_code == 409
    assert f"{manager} moved this deal to Preliminary assessment" in html
    assert "Say why the deal was lost." not in html
    assert Deal.objects.get(pk=deal.pk).stage == "preliminary"


def test_dialog_for_a_card_that_moved_meanwhile_says_who_moved_it_instead_of_asking_why(client, rm1, manager, deal):
    """A drop on Lost or Funded first loads the dialog, naming the stage the card was in: a board
    loaded before the manager's move learns it there, not after filling in the details."""
    services.deal_move(deal=deal, to_stage="preliminary", seen_stage="prospect", by=manager)
    client.force_login(rm1)
    response = client.get(
        url("move", deal),
        {"to": "lost", "seen": "prospect"},
        headers={"HX-Request": "true", "HX-Target": "move-modal-body"},
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert f"{manager} moved this deal to Preliminary assessment" in html
    assert 'name="lost_reason"' not in html  # nothing to fill in: the move cannot be made as seen


def test_dialog_for_a_card_still_where_it_was_asks_for_the_details(client, rm1, deal):
    client.force_login(rm1)
    response = client.get(
        url("move", deal),
        {"to": "lost", "seen": "prospect"},
        headers={"HX-Request": "true", "HX-Target": "move-modal-body"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="lost_reason"' in html
    assert 'name="seen_stage" value="prospect"' in html


def test_lost_needs_a_reason(client, rm1, deal):
    client.force_login(rm1)
    response = client.post(url("move", deal), {"to_stage": "lost", "seen_stage": "prospect"})
    assert response.status_code == 422
    assert "Say why the deal was lost." in response.content.decode()


def test_dialog_loads_the_move_form_asking_why_it_was_lost(client, rm1, deal):
    client.force_login(rm1)
    response = client.get(
        url("move", deal), {"to": "lost"}, headers={"HX-Request": "true", "HX-Target": "move-modal-body"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<nav" not in html  # the form alone, for the dialog
    assert 'value="lost" selected' in html
    assert 'name="lost_reason"' in html


def test_move_needs_login(client, deal):
    response = client.post(url("move", deal), {"to_stage": "preliminary", "seen_stage": "prospect"})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).stage == "prospect"


# --- checklist, documents -----------------------------------------------------------------------
def test_checklist_ticks_and_unticks(client, rm1, deal):
    item = ChecklistItem.objects.first()
    client.force_login(rm1)
    assert client.get(url("checklist", deal)).status_code == 405
    client.post(url("checklist", deal), {"item": item.pk, "done": "on"})
    check = ChecklistCheck.objects.get(deal=deal, item=item)
    assert check.checked_by == rm1
    client.post(url("checklist", deal), {"item": item.pk})
    assert not ChecklistCheck.objects.filter(deal=deal).exists()


def test_teammate_cannot_tick(client, rm2, deal):
    client.force_login(rm2)
    assert (
        client.post(url("checklist", deal), {"item": ChecklistItem.objects.first().pk, "done": "on"}).status_code == 404
    )
    assert not ChecklistCheck.objects.exists()


def test_document_metadata_is_recorded(client, rm1, deal):
    client.force_login(rm1)
    response = client.post(
        url("document_create", deal),
        {"kind": "feasibility", "title": "可行性研究报告", "reference": "DMS-2026-0042", "dated": "2026-10-01"},
    )
    assert response.status_code == 302
    doc = DealDocument.objects.get()
    assert (doc.deal, doc.added_by, doc.reference) == (deal, rm1, "DMS-2026-0042")
    assert "DMS-2026-0042" in client.get(url("detail", deal)).content.decode()


# --- exceptions ---------------------------------------------------------------------------------
@pytest.fixture
def generous_deal(deal):
    """rm1's deal with a spread below the AA policy (80 bp)."""
    Deal.objects.filter(pk=deal.pk).update(spread_bps=60)
    deal.refresh_from_db()
    return deal


def test_team_manager_approves_an_exception(client, rm1, manager, generous_deal):
    client.force_login(rm1)
    assert client.get(url("exception_request", generous_deal)).status_code == 405
    client.post(url("exception_request", generous_deal), {"reason": "战略客户，首个合作项目"})
    exception = TermsException.objects.get()
    assert exception.status == "pending"

    # The RM cannot decide their own request.
    decide = url("exception_decide", generous_deal, exception.code)
    assert client.post(decide, {"decision": "approve"}).status_code == 403

    client.force_login(manager)
    page = client.get(url("detail", generous_deal)).content.decode()
    assert "战略客户，首个合作项目" in page
    assert 'data-testid="decide-form"' in page
    client.post(decide, {"decision": "approve", "note": "同意"})
    exception.refresh_from_db()
    assert (exception.status, exception.decided_by) == ("approved", manager)


def test_other_teams_manager_cannot_see_or_decide(client, rm1, other_team, generous_deal):
    from crm.roles import Role

    west_manager = make_user(Role.TEAM_MANAGER, team=other_team, username="west_manager")
    client.force_login(rm1)
    client.post(url("exception_request", generous_deal), {"reason": "理由"})
    exception = TermsException.objects.get()
    client.force_login(west_manager)
    assert (
        client.post(url("exception_decide", generous_deal, exception.code), {"decision": "approve"}).status_code == 404
    )
    assert TermsException.objects.get().status == "pending"
