"""The alert list, one alert's page, and the actions on alerts (acknowledge, resolve, assign),
around the cast: rm1 (owner), rm2 (teammate), rm_west and the West manager (outsiders), the
East manager and the risk officer (who work the team's / everybody's alerts)."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from crm.roles import Role
from customers.models import Grade, GradeReason
from risk.models import Alert, AlertEvent, AlertEventKind, AlertRule, AlertSeverity, AlertStatus
from risk.services import AssignmentRefused, alert_assign
from tests.factories import SCHEDULE, CustomerFactory, DealFactory, FacilityFactory, add_installments, make_user

T0 = datetime.datetime(2025, 6, 1, 2, 0, tzinfo=datetime.UTC)  # 10:00 in Shanghai
DOWNGRADE_OBSERVED = {
    "old_tier": "AA",
    "new_tier": "A",
    "old_score": "88.00",
    "new_score": "71.50",
    "old_breakdown": {"registered_capital": 100, "bureau_rating": 80, "debt_ratio": 60},
    "new_breakdown": {"registered_capital": 100, "bureau_rating": 40, "debt_ratio": 20},
    "graded_at": "2025-06-01T02:00:00+00:00",
}


def make_rule(name: str = "AA/A downgrade", kind: str = "tier_downgrade", severity: str = "critical") -> AlertRule:
    return AlertRule.objects.create(name=name, kind=kind, severity=severity)


def make_alert(customer, rule=None, *, status=AlertStatus.OPEN, opened_at=None, **kwargs) -> Alert:
    rule = rule or make_rule()
    opened_at = opened_at or timezone.now()
    alert = Alert.objects.create(
        customer=customer,
        rule=rule,
        severity=kwargs.pop("severity", rule.severity),
        status=status,
        opened_at=opened_at,
        last_seen_at=opened_at,
        observed=kwargs.pop("observed", {}),
        **kwargs,
    )
    AlertEvent.objects.create(alert=alert, kind=AlertEventKind.OPENED, at=opened_at)
    return alert


def shown_codes(response) -> set:
    return {a.code for a in response.context["page"].rows}


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def rule(db):
    return make_rule()


@pytest.fixture
def alert(customer, rule):
    """rm1's customer's open critical alert."""
    return make_alert(customer, rule, observed=DOWNGRADE_OBSERVED)


@pytest.fixture
def west_manager(other_team):
    return make_user(Role.TEAM_MANAGER, team=other_team, username="west_manager")


# --- The list --------------------------------------------------------------------------------------
def test_list_requires_login(client):
    response = client.get(reverse("risk:alerts"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_rm_sees_own_customers_alerts_only(client, rm1, alert, other_customer, west_customer, rule):
    theirs = make_alert(other_customer, rule)
    west = make_alert(west_customer, rule)
    client.force_login(rm1)
    response = client.get(reverse("risk:alerts"))
    assert shown_codes(response) == {alert.code}
    page = response.content.decode()
    assert "华东光伏电站项目有限公司" in page
    assert other_customer.name not in page and west_customer.name not in page
    assert str(theirs.code) not in page and str(west.code) not in page


def test_team_manager_sees_the_teams_alerts_and_risk_officer_all(
    client, manager, risk_officer, alert, other_customer, west_customer, rule
):
    theirs = make_alert(other_customer, rule)
    west = make_alert(west_customer, rule)
    client.force_login(manager)
    assert shown_codes(client.get(reverse("risk:alerts"))) == {alert.code, theirs.code}
    client.force_login(risk_officer)
    assert shown_codes(client.get(reverse("risk:alerts"))) == {alert.code, theirs.code, west.code}


@pytest.fixture
def varied(customer, other_customer, west_customer, rm_west, risk_officer):
    """Three alerts that differ in every filtered attribute, as the risk officer sees them."""
    for c, tier in ((customer, "AA"), (other_customer, "B"), (west_customer, "A")):
        c.tier = tier
        c.save(update_fields=["tier"])
    downgrade = make_rule("Downgrade", "tier_downgrade", "critical")
    overdue = make_rule("Overdue 30 days", "payment_overdue", "warning")
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    return {
        "downgrade": downgrade,
        "overdue": overdue,
        "a1": make_alert(
            customer,
            downgrade,
            opened_at=datetime.datetime(2025, 6, 1, 23, 30, tzinfo=shanghai),
            assignee=risk_officer,
        ),
        "a2": make_alert(
            other_customer,
            overdue,
            status=AlertStatus.ACKNOWLEDGED,
            # Still 1 June in UTC, already 2 June in Shanghai: the filters count local days.
            opened_at=datetime.datetime(2025, 6, 2, 0, 30, tzinfo=shanghai),
        ),
        "a3": make_alert(
            west_customer,
            downgrade,
            severity=AlertSeverity.INFO,
            status=AlertStatus.RESOLVED,
            opened_at=datetime.datetime(2025, 6, 20, 9, 0, tzinfo=shanghai),
            assignee=rm_west,
        ),
    }


FILTER_CASES = [
    ({}, {"a1", "a2"}),  # unresolved by default
    ({"status": "all"}, {"a1", "a2", "a3"}),
    ({"status": "resolved"}, {"a3"}),
    ({"status": "acknowledged"}, {"a2"}),
    ({"status": "open"}, {"a1"}),
    ({"severity": "critical"}, {"a1"}),
    ({"severity": "info", "status": "all"}, {"a3"}),
    ({"rule": "overdue"}, {"a2"}),
    ({"tier": "B"}, {"a2"}),
    ({"tier": "A", "status": "all"}, {"a3"}),
    ({"team": "West", "status": "all"}, {"a3"}),
    ({"team": "East", "status": "all"}, {"a1", "a2"}),
    ({"assignee": "me"}, {"a1"}),
    ({"assignee": "unassigned"}, {"a2"}),
    ({"assignee": "rm_west", "status": "all"}, {"a3"}),
    ({"opened_to": "2025-06-01"}, {"a1"}),
    ({"opened_from": "2025-06-02"}, {"a2"}),
    ({"opened_from": "2025-06-02", "opened_to": "2025-06-19", "status": "all"}, {"a2"}),
]


@pytest.mark.parametrize(("params", "expected"), FILTER_CASES)
def test_each_filter_narrows_the_list(client, risk_officer, varied, team, other_team, rm_west, params, expected):
    values = {
        "rule": lambda v: varied[v].pk,
        "team": lambda v: {"East": team, "West": other_team}[v].code,
        "assignee": lambda v: rm_west.code if v == "rm_west" else v,
    }
    query = {k: values[k](v) if k in values else v for k, v in params.items()}
    client.force_login(risk_officer)
    response = client.get(reverse("risk:alerts"), query)
    assert response.status_code == 200
    assert shown_codes(response) == {varied[name].code for name in expected}


def test_team_filter_only_for_those_who_see_every_team(client, manager, risk_officer, rm1):
    client.force_login(manager)
    assert "team" not in client.get(reverse("risk:alerts")).context["filter"].form.fields
    client.force_login(risk_officer)
    assert "team" in client.get(reverse("risk:alerts")).context["filter"].form.fields


def test_assignee_choices_stay_within_the_users_scope(client, rm1, rm2, rm_west, manager, west_manager, risk_officer):
    client.force_login(rm1)
    choices = dict(client.get(reverse("risk:alerts")).context["filter"].form.fields["assignee"].choices)
    assert str(manager.code) in choices and str(risk_officer.code) in choices
    assert str(rm2.code) not in choices and str(rm_west.code) not in choices
    assert str(west_manager.code) not in choices


def test_team_filter_from_a_manager_cannot_widen_the_scope(client, manager, other_team, west_customer, rule):
    make_alert(west_customer, rule)
    client.force_login(manager)
    response = client.get(reverse("risk:alerts"), {"team": other_team.code, "status": "all"})
    assert shown_codes(response) == set()


def test_htmx_redraws_only_the_results(client, rm1, alert):
    client.force_login(rm1)
    response = client.get(reverse("risk:alerts"), {"severity": "critical"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="results"' in body and "<html" not in body
    assert str(alert.code) in body


@pytest.fixture
def many_alerts(rm1, rm2):
    """60 unresolved alerts (30 customers of rm1 and rm2 × 2 rules), one a minute apart."""
    rules = [make_rule("Downgrade"), make_rule("Overdue", "payment_overdue", "warning")]
    alerts = []
    for i in range(30):
        owner = rm1 if i % 2 else rm2
        c = CustomerFactory(owner=owner, team=owner.team)
        for j, r in enumerate(rules):
            opened = T0 + datetime.timedelta(minutes=2 * i + j)
            alerts.append(make_alert(c, r, opened_at=opened, assignee=owner if j else None))
    return alerts


def test_list_query_count_does_not_grow_with_rows(client, manager, many_alerts, django_assert_max_num_queries):
    client.force_login(manager)
    # 13 with the top bar's count of exceptions waiting for a decision.
    with django_assert_max_num_queries(13) as queries:
        response = client.get(reverse("risk:alerts"))
    assert len(response.context["page"].rows) == 50
    assert response.context["count"] == 60
    # The next page costs what the first did: the cursor is read inside the page query.
    with django_assert_max_num_queries(len(queries.captured_queries)) as next_page:
        older = client.get(reverse("risk:alerts"), {"after": str(response.context["page"].oldest.code)})
    assert len(older.context["page"].rows) == 10
    assert len(next_page.captured_queries) == len(queries.captured_queries)


def test_pages_are_newest_first_and_cover_every_alert_once(client, manager, many_alerts):
    client.force_login(manager)
    first = client.get(reverse("risk:alerts")).context["page"]
    assert first.has_older and not first.has_newer
    opened = [a.opened_at for a in first.rows]
    assert opened == sorted(opened, reverse=True)
    second = client.get(reverse("risk:alerts"), {"after": str(first.oldest.code)}).context["page"]
    assert second.has_newer and not second.has_older
    codes = [a.code for a in first.rows + second.rows]
    assert len(codes) == len(set(codes)) == 60
    back = client.get(reverse("risk:alerts"), {"before": str(second.newest.code)}).context["page"]
    assert [a.code for a in back.rows] == [a.code for a in first.rows]


def test_list_shows_the_columns(client, rm1, customer, rule, manager):
    customer.tier = "A"
    customer.save(update_fields=["tier"])
    make_alert(customer, rule, assignee=manager, escalated_at=timezone.now(), escalated_to=manager)
    client.force_login(rm1)
    page = client.get(reverse("risk:alerts")).content.decode()
    assert 'data-severity="critical"' in page
    assert 'data-tier="A"' in page
    assert rule.name in page
    assert str(manager) in page
    assert 'data-testid="escalated"' in page
    assert reverse("customers:detail", args=[customer.code]) in page


# --- Bulk acknowledge ------------------------------------------------------------------------------
def test_bulk_acknowledge_rejects_get(client, rm1):
    client.force_login(rm1)
    assert client.get(reverse("risk:alerts_acknowledge")).status_code == 405


def test_bulk_acknowledge_requires_login(client, alert):
    response = client.post(reverse("risk:alerts_acknowledge"), {"codes": [alert.code]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_bulk_acknowledge_touches_only_visible_open_alerts(client, rm1, customer, other_customer, rule):
    mine_open = make_alert(customer, rule)
    mine_acknowledged = make_alert(customer, make_rule("Overdue", "payment_overdue"), status=AlertStatus.ACKNOWLEDGED)
    mine_resolved = make_alert(customer, make_rule("Breach", "limit_breach"), status=AlertStatus.RESOLVED)
    theirs = make_alert(other_customer, rule)
    client.force_login(rm1)
    response = client.post(
        reverse("risk:alerts_acknowledge"),
        {"codes": [mine_open.code, mine_acknowledged.code, mine_resolved.code, theirs.code]},
    )
    assert response.status_code == 302 and response["Location"] == reverse("risk:alerts")
    for a, status in [
        (mine_open, AlertStatus.ACKNOWLEDGED),
        (mine_acknowledged, AlertStatus.ACKNOWLEDGED),
        (mine_resolved, AlertStatus.RESOLVED),
        (theirs, AlertStatus.OPEN),
    ]:
        a.refresh_from_db()
        assert a.status == status
    assert AlertEvent.objects.filter(alert=mine_open, kind=AlertEventKind.ACKNOWLEDGED, by=rm1).count() == 1
    assert not AlertEvent.objects.filter(alert=theirs, kind=AlertEventKind.ACKNOWLEDGED).exists()
    assert message_texts(response) == [
        "1 alert acknowledged. 2 had already moved on (acknowledged or resolved by someone else)."
    ]


def test_bulk_acknowledge_of_an_outsiders_alerts_changes_nothing(client, rm_west, alert):
    client.force_login(rm_west)
    response = client.post(reverse("risk:alerts_acknowledge"), {"codes": [alert.code]})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert message_texts(response) == ["0 alerts acknowledged."]


def test_bulk_acknowledge_by_team_manager_returns_to_the_filtered_list(client, manager, alert, other_customer, rule):
    theirs = make_alert(other_customer, rule)
    client.force_login(manager)
    back = reverse("risk:alerts") + "?severity=critical"
    response = client.post(reverse("risk:alerts_acknowledge"), {"codes": [alert.code, theirs.code], "next": back})
    assert response["Location"] == back
    assert set(Alert.objects.values_list("status", flat=True)) == {AlertStatus.ACKNOWLEDGED}
    assert message_texts(response) == ["2 alerts acknowledged."]


def test_bulk_acknowledge_without_selection_says_so(client, rm1, alert):
    client.force_login(rm1)
    response = client.post(reverse("risk:alerts_acknowledge"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("risk:alerts")
    assert message_texts(response) == ["Select the alerts to acknowledge."]


# --- One alert's page ------------------------------------------------------------------------------
def test_detail_shows_the_tier_downgrade_with_both_breakdowns(client, rm1, alert):
    client.force_login(rm1)
    response = client.get(reverse("risk:alert", args=[alert.code]))
    assert response.status_code == 200
    page = response.content.decode()
    change = response.context["observation"].grade_change
    assert (change.old_tier, change.new_tier) == ("AA", "A")
    assert (change.old_score, change.new_score) == (Decimal("88.00"), Decimal("71.50"))
    assert change.score_delta == Decimal("-16.50")
    assert 'data-tier="AA"' in page and 'data-tier="A"' in page
    assert "88.00" in page and "71.50" in page and "-16.50" in page
    # Side by side, per criterion, with the scorecard's labels.
    rows = {c.label: (c.old, c.new, c.delta) for c in change.criteria}
    assert rows["Credit bureau rating"] == (80, 40, -40)
    assert rows["Debt ratio"] == (60, 20, -40)
    assert "Credit bureau rating" in page and "Registered capital" in page


def test_detail_shows_grade_history_newest_first_last_ten(client, rm1, customer, alert):
    now = timezone.now()
    for i in range(12):
        Grade.objects.create(
            customer=customer,
            tier="AA" if i < 11 else "A",
            computed_tier="AA" if i < 11 else "A",
            previous_tier="AA" if i == 11 else "",
            score=Decimal(f"{60 + i}.25"),
            reason=GradeReason.DATA_CHANGED,
            created_at=now - datetime.timedelta(days=12 - i),
        )
    client.force_login(rm1)
    response = client.get(reverse("risk:alert", args=[alert.code]))
    grades = response.context["grade_history"]["grades"]
    assert [g.score for g in grades] == [Decimal(f"{60 + i}.25") for i in range(11, 1, -1)]
    page = response.content.decode()
    assert 'data-testid="grade-history"' in page
    assert "71.25" in page and "61.25" not in page


def test_detail_shows_the_events_with_who_when_and_note(client, rm1, manager, customer, rule):
    alert = make_alert(customer, rule, opened_at=T0)
    with time_machine.travel(T0 + datetime.timedelta(hours=1), tick=False):
        AlertEvent.objects.create(alert=alert, kind=AlertEventKind.ACKNOWLEDGED, by=manager)
    with time_machine.travel(T0 + datetime.timedelta(hours=2), tick=False):
        alert_assign(alert=alert, assignee=rm1, by=manager)
    AlertEvent.objects.create(
        alert=alert, kind=AlertEventKind.RESOLVED, by=rm1, note="客户已补充担保", at=T0 + datetime.timedelta(hours=3)
    )
    client.force_login(rm1)
    response = client.get(reverse("risk:alert", args=[alert.code]))
    kinds = [e.kind for e in response.context["events"]]
    assert kinds == ["opened", "acknowledged", "assigned", "resolved"]
    page = response.content.decode()
    assert "客户已补充担保" in page
    assert f"Assigned to {rm1}" in page
    assert str(manager) in page and "System" in page
    assert timezone.localtime(T0 + datetime.timedelta(hours=1)).strftime("%H:%M") in page


def test_detail_of_payment_overdue_shows_amount_days_and_facilities(client, rm1, customer):
    facility = FacilityFactory(customer=customer)
    add_installments(facility, SCHEDULE)
    rule = make_rule("Overdue 30 days", "payment_overdue", "warning")
    alert = make_alert(
        customer,
        rule,
        observed={
            "amount_overdue": "209500.00",
            "days_overdue": 45,
            "facilities": [str(facility.code)],
            "as_of": "2025-05-15",
        },
    )
    client.force_login(rm1)
    response = client.get(reverse("risk:alert", args=[alert.code]))
    page = response.content.decode()
    assert "Amount overdue (CNY)" in page and "209,500.00" in page
    assert "Days overdue" in page and ">45<" in page.replace("\n", "").replace(" ", "")
    assert response.context["observation"].facilities == [facility]
    assert reverse("funnel:detail", args=[facility.deal.code]) in page
    assert reverse("risk:facility", args=[facility.code]) in page
    assert "1,000,000.00" in page  # drawn


def test_detail_of_limit_breach_shows_drawn_against_the_limit(client, rm1, customer):
    alert = make_alert(
        customer,
        make_rule("Breach", "limit_breach"),
        observed={"drawn_total": "1200000.00", "credit_limit": "1000000.00"},
    )
    client.force_login(rm1)
    page = client.get(reverse("risk:alert", args=[alert.code])).content.decode()
    assert "Drawn on open facilities (CNY)" in page and "1,200,000.00" in page
    assert "Credit limit (CNY)" in page and "1,000,000.00" in page


def test_detail_of_other_kinds_shows_ratings_dates_deals_and_unknown_keys(client, rm1, customer, other_customer):
    stale = DealFactory(customer=customer, title="风电三期融资")
    not_theirs = DealFactory(customer=other_customer, title="别人的项目")
    alert = make_alert(
        customer,
        make_rule("Stale", "deal_stale"),
        observed={
            "old_rating": "AA",
            "new_rating": "BBB",
            "credit_report_date": "2025-03-31",
            "deals": [
                {
                    "code": str(stale.code),
                    "title": "old title",
                    "stage": "prospect",
                    "since": "2025-05-01T00:00:00+00:00",
                },
                {"code": str(not_theirs.code), "title": "x", "stage": "prospect"},
            ],
            "deals_total": 2,
            "something_new": "淡季",
        },
    )
    client.force_login(rm1)
    page = client.get(reverse("risk:alert", args=[alert.code])).content.decode()
    [rating] = [
        f for f in client.get(reverse("risk:alert", args=[alert.code])).context["observation"].facts if f.is_change
    ]
    assert (rating.label, rating.before, rating.value) == ("Credit bureau rating", "AA", "BBB")
    assert "Credit bureau rating" in page and "BBB" in page
    assert "Latest credit report" in page
    assert reverse("funnel:detail", args=[stale.code]) in page and "风电三期融资" in page
    assert "别人的项目" not in page and str(not_theirs.code) not in page
    assert "Something new" in page and "淡季" in page


def test_detail_of_an_outsider_is_404(client, rm2, rm_west, west_manager, alert):
    for outsider in (rm2, rm_west, west_manager):
        client.force_login(outsider)
        assert client.get(reverse("risk:alert", args=[alert.code])).status_code == 404


def test_detail_offers_assignees_who_can_see_the_customer(client, rm1, rm2, manager, risk_officer, alert):
    client.force_login(rm1)
    assignees = client.get(reverse("risk:alert", args=[alert.code])).context["assignees"]
    assert rm1 in assignees and manager in assignees and risk_officer in assignees
    assert rm2 not in assignees


# --- The actions -----------------------------------------------------------------------------------
ACTIONS = {
    "risk:alert_acknowledge": {},
    "risk:alert_resolve": {"note": "Customer posted more collateral."},
    "risk:alert_assign": {"assignee": "manager"},
}


def action_data(name: str, manager) -> dict:
    data = dict(ACTIONS[name])
    if data.get("assignee") == "manager":
        data["assignee"] = str(manager.code)
    return data


@pytest.mark.parametrize("name", ACTIONS)
def test_action_rejects_get(client, rm1, alert, name):
    client.force_login(rm1)
    assert client.get(reverse(name, args=[alert.code])).status_code == 405


@pytest.mark.parametrize("name", ACTIONS)
def test_action_requires_login(client, alert, manager, name):
    response = client.post(reverse(name, args=[alert.code]), action_data(name, manager))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert AlertEvent.objects.filter(alert=alert).count() == 1  # the opening only


@pytest.mark.parametrize("name", ACTIONS)
@pytest.mark.parametrize("outsider", ["rm2", "rm_west", "west_manager"])
def test_action_by_outsider_is_404(client, request, alert, manager, name, outsider):
    client.force_login(request.getfixturevalue(outsider))
    response = client.post(reverse(name, args=[alert.code]), action_data(name, manager))
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN and alert.assignee is None


def test_rm_acknowledges_own_alert(client, rm1, alert):
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_acknowledge", args=[alert.code]))
    assert response["Location"] == reverse("risk:alert", args=[alert.code])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert AlertEvent.objects.get(alert=alert, kind=AlertEventKind.ACKNOWLEDGED).by == rm1
    assert message_texts(response) == ["Alert acknowledged: the team can see you are on it."]


def test_team_manager_resolves_a_team_alert_and_returns_to_the_dashboard(client, manager, alert):
    client.force_login(manager)
    response = client.post(
        reverse("risk:alert_resolve", args=[alert.code]),
        {"note": "  Called the CFO; covenant waiver signed.  ", "next": "/risk/dashboard/"},
    )
    assert response["Location"] == "/risk/dashboard/"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_note == "Called the CFO; covenant waiver signed."
    event = AlertEvent.objects.get(alert=alert, kind=AlertEventKind.RESOLVED)
    assert (event.by, event.note) == (manager, "Called the CFO; covenant waiver signed.")


def test_risk_officer_acknowledges_and_assigns_any_alert(client, risk_officer, rm_west, west_customer, rule):
    west = make_alert(west_customer, rule)
    client.force_login(risk_officer)
    client.post(reverse("risk:alert_acknowledge", args=[west.code]))
    response = client.post(reverse("risk:alert_assign", args=[west.code]), {"assignee": rm_west.code})
    west.refresh_from_db()
    assert (west.status, west.assignee) == (AlertStatus.ACKNOWLEDGED, rm_west)
    assert message_texts(response)[-1] == f"Assigned to {rm_west}."


def test_unsafe_next_is_ignored(client, rm1, alert):
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_acknowledge", args=[alert.code]), {"next": "https://evil.example/x"})
    assert response["Location"] == reverse("risk:alert", args=[alert.code])


def test_acknowledging_an_alert_someone_else_acknowledged_shows_why(client, rm1, manager, alert):
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.save(update_fields=["status"])
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_acknowledge", args=[alert.code]), {"next": "/risk/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/risk/dashboard/"
    [text] = message_texts(response)
    assert "changed in the meantime" in text


def test_resolving_an_alert_already_resolved_shows_why(client, rm1, alert):
    alert.status = AlertStatus.RESOLVED
    alert.save(update_fields=["status"])
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_resolve", args=[alert.code]), {"note": "done"})
    assert response.status_code == 302
    assert "changed in the meantime" in message_texts(response)[0]
    assert not AlertEvent.objects.filter(alert=alert, kind=AlertEventKind.RESOLVED).exists()


def test_resolve_without_note_shows_the_error_on_the_page(client, rm1, alert):
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_resolve", args=[alert.code]), {"note": "   "})
    assert response.status_code == 200
    page = response.content.decode()
    assert "a note is required" in page and 'data-testid="resolve-error"' in page
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_resolve_without_note_by_htmx_is_422_with_the_actions_alone(client, rm1, alert):
    client.force_login(rm1)
    response = client.post(
        reverse("risk:alert_resolve", args=[alert.code]),
        {"note": "", "next": "/risk/dashboard/"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "<html" not in body and f'id="alert-actions-{alert.code}"' in body
    assert "a note is required" in body and 'value="/risk/dashboard/"' in body


def test_resolve_by_htmx_redirects_the_page(client, rm1, alert):
    client.force_login(rm1)
    response = client.post(
        reverse("risk:alert_resolve", args=[alert.code]),
        {"note": "Paid in full.", "next": "/risk/dashboard/"},
        headers={"HX-Request": "true"},
    )
    assert response["HX-Redirect"] == "/risk/dashboard/"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


# --- Assign ----------------------------------------------------------------------------------------
def test_assign_refuses_someone_who_cannot_see_the_customer(client, rm1, rm2, alert):
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_assign", args=[alert.code]), {"assignee": rm2.code})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.assignee is None
    assert message_texts(response) == ["That person cannot see this customer; choose someone from the list."]
    assert not AlertEvent.objects.filter(alert=alert, kind=AlertEventKind.ASSIGNED).exists()


def test_service_refuses_an_assignee_who_cannot_see_the_customer(rm1, rm_west, alert):
    with pytest.raises(AssignmentRefused, match="cannot see this customer"):
        alert_assign(alert=alert, assignee=rm_west, by=rm1)
    alert.refresh_from_db()
    assert alert.assignee is None


def test_service_refuses_a_resolved_alert(rm1, manager, alert):
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    with pytest.raises(AssignmentRefused, match="resolved"):
        alert_assign(alert=alert, assignee=manager, by=rm1)
    alert.refresh_from_db()
    assert alert.assignee is None


def test_service_records_who_assigned_whom_when_and_only_once(rm1, manager, alert):
    with time_machine.travel(T0, tick=False):
        assert alert_assign(alert=alert, assignee=manager, by=rm1) is True
    assert alert_assign(alert=alert, assignee=manager, by=rm1) is False
    [event] = AlertEvent.objects.filter(alert=alert, kind=AlertEventKind.ASSIGNED)
    assert (event.by, event.at, event.note) == (rm1, T0, str(manager))
    alert.refresh_from_db()
    assert alert.assignee == manager


def test_assign_to_the_current_assignee_says_so(client, rm1, manager, alert):
    alert_assign(alert=alert, assignee=manager, by=rm1)
    client.force_login(rm1)
    response = client.post(reverse("risk:alert_assign", args=[alert.code]), {"assignee": manager.code})
    assert message_texts(response) == [f"{manager} already had this alert."]
