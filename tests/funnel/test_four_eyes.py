"""Issue #11, finding 2: four eyes on terms exceptions (审贷分离). Nobody decides an exception
they asked for or one on a deal they keep as its RM; who may decide at all is a permission
admins grant (Team manager and Risk officer by default); every decision is on the timeline."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from crm.roles import Role
from funnel import services
from funnel.deciders import deciders
from funnel.exceptions import NotAllowed
from funnel.models import Deal, ExceptionStatus, Stage, TermsException
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ASKED = "You asked for this exception, so someone else must decide it."
NO_RIGHT = "You may not decide exceptions on this deal."


@pytest.fixture
def manager2(team):
    """A second team manager of rm1's team."""
    return make_user(Role.TEAM_MANAGER, team=team, username="manager2")


@pytest.fixture
def dd_deal(deal, rm1):
    for stage in (Stage.PRELIMINARY, Stage.DUE_DILIGENCE):
        deal = services.deal_move(deal=deal, to_stage=stage, seen_stage=deal.stage, by=rm1)
    return deal


def url(name: str, deal: Deal, *args) -> str:
    return reverse(f"funnel:{name}", args=[deal.code, *args])


def permission() -> Permission:
    return Permission.objects.get(content_type__app_label="funnel", codename="decide_exception")


def cheap(deal: Deal, by) -> TermsException:
    """``by`` prices the deal 2 bp over the base rate and asks for an exception."""
    deal.refresh_from_db()
    services.deal_update(deal=deal, by=by, spread_bps=2)
    return services.exception_request(deal=deal, by=by, reason="竞争对手报价")


# --- the finding, as reported -------------------------------------------------------------------
def test_finding_2_team_manager_cannot_approve_his_own_exception(client, manager, rm1, dd_deal):
    client.force_login(manager)
    form = {
        "title": dd_deal.title,
        "project_type": dd_deal.project_type,
        "amount": str(dd_deal.amount),
        "probability": str(dd_deal.probability),
        "spread_bps": "2",
        "collateral_coverage": str(dd_deal.collateral_coverage),
        "proposed_limit": str(dd_deal.proposed_limit),
    }
    assert client.post(url("edit", dd_deal), form).status_code == 302
    client.post(url("exception_request", dd_deal), {"reason": "战略客户"})
    exception = TermsException.objects.get()
    assert (exception.requested_by, exception.spread_bps) == (manager, 2)

    page = client.get(url("detail", dd_deal)).content.decode()
    assert 'data-testid="decide-form"' not in page
    response = client.post(url("exception_decide", dd_deal, exception.code), {"decision": "approve", "note": "同意"})
    assert response.status_code == 403
    exception.refresh_from_db()
    assert (exception.status, exception.decided_by) == (ExceptionStatus.PENDING, None)

    # So the deal cannot be approved on the manager's word alone.
    client.force_login(rm1)
    response = client.post(url("move", dd_deal), {"to_stage": "approved", "seen_stage": "due_diligence"})
    assert response.status_code == 422
    assert Deal.objects.get(pk=dd_deal.pk).stage == Stage.DUE_DILIGENCE


def test_a_managers_own_request_is_decided_by_a_risk_officer_and_named_on_the_page(
    client, manager, risk_officer, dd_deal
):
    exception = cheap(dd_deal, manager)
    client.force_login(manager)
    page = client.get(url("detail", dd_deal)).content.decode()
    assert f'data-testid="deciders">Who may decide it: {risk_officer}</div>' in page  # not the manager himself

    client.force_login(risk_officer)
    assert 'data-testid="decide-form"' in client.get(url("detail", dd_deal)).content.decode()
    client.post(url("exception_decide", dd_deal, exception.code), {"decision": "approve", "note": "风险可控"})
    exception.refresh_from_db()
    assert (exception.status, exception.decided_by) == (ExceptionStatus.APPROVED, risk_officer)


# --- the rule in the service --------------------------------------------------------------------
def test_the_service_refuses_the_requester_whoever_they_are(manager, admin_user, dd_deal):
    for requester in (manager, admin_user):
        exception = cheap(dd_deal, requester)
        with pytest.raises(NotAllowed, match=re.escape(ASKED)):
            services.exception_decide(exception=exception, by=requester, approve=True)
        services.exception_decide(
            exception=exception, by=manager if requester != manager else admin_user, approve=False
        )


def test_the_deals_rm_never_decides_even_holding_the_permission(rm1, manager, dd_deal):
    rm1.user_permissions.add(permission())
    exception = cheap(dd_deal, manager)
    with pytest.raises(NotAllowed, match="You are the relationship manager of this deal"):
        services.exception_decide(exception=exception, by=rm1, approve=True)
    assert TermsException.objects.get().status == ExceptionStatus.PENDING


def test_another_manager_of_the_team_decides_a_managers_request(manager, manager2, dd_deal):
    exception = services.exception_decide(exception=cheap(dd_deal, manager), by=manager2, approve=True, note="可以")
    assert (exception.status, exception.decided_by, exception.decision_note) == (
        ExceptionStatus.APPROVED,
        manager2,
        "可以",
    )


def test_a_manager_of_another_team_does_not_decide_even_with_the_permission(other_team, manager, dd_deal):
    west = make_user(Role.TEAM_MANAGER, team=other_team, username="west_manager")
    with pytest.raises(NotAllowed, match=re.escape(NO_RIGHT)):
        services.exception_decide(exception=cheap(dd_deal, manager), by=west, approve=True)


def test_who_may_decide_is_set_by_admin(rm1, manager, risk_officer, dd_deal):
    """Admin takes the permission from the Risk officer group, then gives it to one officer."""
    exception = cheap(dd_deal, rm1)
    Group.objects.get(name=Role.RISK_OFFICER.value).permissions.remove(permission())
    assert list(deciders(exception, dd_deal)) == [manager]
    with pytest.raises(NotAllowed, match=re.escape(NO_RIGHT)):
        services.exception_decide(exception=exception, by=risk_officer, approve=True)

    risk_officer.user_permissions.add(permission())
    officer = type(risk_officer).objects.get(pk=risk_officer.pk)  # a fresh permission cache
    assert set(deciders(exception, dd_deal)) == {manager, risk_officer}
    assert services.exception_decide(exception=exception, by=officer, approve=True).decided_by == officer


def test_the_migration_grants_team_managers_and_risk_officers(db):
    holders = set(Group.objects.filter(permissions=permission()).values_list("name", flat=True))
    assert {Role.TEAM_MANAGER.value, Role.RISK_OFFICER.value} <= holders
    assert Role.RELATIONSHIP_MANAGER.value not in holders


def test_nobody_left_to_decide_is_said_on_the_page(client, manager, dd_deal):
    Group.objects.get(name=Role.RISK_OFFICER.value).permissions.remove(permission())
    cheap(dd_deal, manager)
    client.force_login(manager)
    page = client.get(url("detail", dd_deal)).content.decode()
    assert "Nobody may decide it yet" in page


# --- the timeline ------------------------------------------------------------------------------
def test_request_and_decision_are_on_the_deals_timeline(client, rm1, manager, dd_deal):
    exception = cheap(dd_deal, rm1)
    services.exception_decide(exception=exception, by=manager, approve=False, note="利差过低")
    client.force_login(rm1)
    html = client.get(url("detail", dd_deal)).content.decode()
    timeline = html[html.index('data-testid="timeline"') :]
    rejected = timeline.index("Terms exception rejected")
    requested = timeline.index("Terms exception requested")
    assert rejected < requested < timeline.index("Prospect identified → Preliminary assessment")
    entry = timeline[rejected : timeline.index("</li>", rejected)]
    assert str(manager) in entry
    assert "利差过低" in entry
    assert "Spread 2 bp" in entry


def test_the_decision_shows_in_chinese(client, rm1, manager, dd_deal):
    services.exception_decide(exception=cheap(dd_deal, rm1), by=manager, approve=True)
    client.force_login(rm1)
    client.post(reverse("language"), {"language": "zh-hans"})
    html = client.get(url("detail", dd_deal)).content.decode()
    assert "条件例外审批已批准" in html
    assert "申请条件例外审批" in html


def test_the_request_message_names_who_may_decide(client, rm1, manager, risk_officer, dd_deal):
    Deal.objects.filter(pk=dd_deal.pk).update(spread_bps=60, collateral_coverage=Decimal("50.0"))
    client.force_login(rm1)
    response = client.post(url("exception_request", dd_deal), {"reason": "理由"}, follow=True)
    assert f"Exception requested. Who may decide on it: {manager}, {risk_officer}." in response.content.decode()
