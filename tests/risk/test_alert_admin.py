"""Django admin for alert rules (editable, checked by AlertRule.clean) and for alerts, their
events and digests (read-only: alerts change through their services only)."""

import datetime

import pytest
from django.utils import timezone

from risk.models import Alert, AlertDigest, AlertEvent, AlertEventKind, AlertRule, AlertStatus

RULES = "/admin/risk/alertrule/"


def rule_form(**overrides) -> dict:
    data = {
        "name": "Overdue over 60 days",
        "kind": "payment_overdue",
        "params": '{"days": 60}',
        "severity": "critical",
        "tiers": "[]",
        "enabled": "on",
        "escalate_after_hours": "24",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def alert(customer, manager):
    rule = AlertRule.objects.create(name="AA/A downgrade", kind="tier_downgrade", severity="critical")
    alert = Alert.objects.create(
        customer=customer, rule=rule, severity="critical", observed={"old_tier": "AA", "new_tier": "A"}
    )
    AlertEvent.objects.create(alert=alert, kind=AlertEventKind.OPENED)
    AlertEvent.objects.create(alert=alert, kind=AlertEventKind.ACKNOWLEDGED, by=manager, note="看过了")
    return alert


def test_rule_changelist_loads_with_its_columns(staff):
    AlertRule.objects.create(name="Downgrade for AA only", kind="tier_downgrade", tiers=["AA"], severity="warning")
    page = staff.get(RULES)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Downgrade for AA only" in html
    assert "Escalate after (hours)" in html
    assert 'name="form-0-enabled"' in html  # switched on and off from the list


def test_rule_is_added_with_good_params(staff):
    response = staff.post(f"{RULES}add/", rule_form())
    assert response.status_code == 302
    rule = AlertRule.objects.get(name="Overdue over 60 days")
    assert (rule.params, rule.severity, rule.escalate_after_hours) == ({"days": 60}, "critical", 24)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ('{"days": -5}', '"days"'),
        ('{"weeks": 2}', '"weeks"'),
        ("[1, 2]", "JSON object"),
        ("{days: 5", "valid JSON"),
    ],
)
def test_rule_with_bad_params_shows_the_error_on_the_params_field(staff, params, says):
    response = staff.post(f"{RULES}add/", rule_form(params=params))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["params"]
    assert says in " ".join(errors["params"])
    assert says.replace('"', "&quot;") in response.content.decode()
    assert not AlertRule.objects.filter(name="Overdue over 60 days").exists()


def test_rule_with_bad_tiers_shows_the_error_on_the_tiers_field(staff):
    response = staff.post(f"{RULES}add/", rule_form(tiers='["C"]'))
    assert list(response.context["adminform"].form.errors) == ["tiers"]


def changelist_post(rule: AlertRule, *, enabled: bool) -> dict:
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(rule.pk),
        "_save": "Save",
    }
    if enabled:
        data["form-0-enabled"] = "on"
    return data


def test_enabling_a_broken_rule_from_the_list_shows_why_and_keeps_it_off(staff):
    # Saved around the checks (e.g. before a parameter was renamed): the list must not crash.
    broken = AlertRule.objects.create(name="Old overdue", kind="payment_overdue", params={"weeks": 2}, enabled=False)
    response = staff.post(RULES, changelist_post(broken, enabled=True))
    assert response.status_code == 200
    assert '"weeks"' in response.content.decode().replace("&quot;", '"')
    broken.refresh_from_db()
    assert broken.enabled is False


def test_a_broken_rule_can_still_be_switched_off_from_the_list(staff):
    broken = AlertRule.objects.create(name="Old overdue", kind="payment_overdue", params={"weeks": 2}, enabled=True)
    response = staff.post(RULES, changelist_post(broken, enabled=False))
    assert response.status_code == 302
    broken.refresh_from_db()
    assert broken.enabled is False


def test_alert_changelist_loads_and_filters(staff, alert, other_customer):
    other = Alert.objects.create(
        customer=other_customer, rule=alert.rule, severity="warning", status=AlertStatus.RESOLVED
    )
    page = staff.get("/admin/risk/alert/")
    assert page.status_code == 200
    assert {a.pk for a in page.context["cl"].result_list} == {alert.pk, other.pk}
    filtered = staff.get("/admin/risk/alert/", {"status__exact": "resolved"})
    assert [a.pk for a in filtered.context["cl"].result_list] == [other.pk]
    filtered = staff.get("/admin/risk/alert/", {"severity__exact": "critical", "rule__id__exact": alert.rule.pk})
    assert [a.pk for a in filtered.context["cl"].result_list] == [alert.pk]


def test_alerts_and_their_events_are_listed_newest_first_and_sort_by_date(staff, alert, other_customer):
    """Read by id, which is by date (an alert is written as it opens, an event as it happens):
    newest first, and the date column sorts oldest first."""
    later = Alert.objects.create(customer=other_customer, rule=alert.rule, severity="warning")
    alerts = staff.get("/admin/risk/alert/")
    assert [a.pk for a in alerts.context["cl"].result_list] == [later.pk, alert.pk]
    assert alerts.content.decode().count(">Opened<") == 1  # the date column's header, with its sort link
    oldest_first = staff.get("/admin/risk/alert/", {"o": "0"})  # no action column: the first is 0
    assert [a.pk for a in oldest_first.context["cl"].result_list] == [alert.pk, later.pk]
    events = staff.get("/admin/risk/alertevent/")
    kinds = [e.kind for e in events.context["cl"].result_list]
    assert kinds == [AlertEventKind.ACKNOWLEDGED, AlertEventKind.OPENED]
    oldest_first = staff.get("/admin/risk/alertevent/", {"o": "0"})
    assert [e.kind for e in oldest_first.context["cl"].result_list] == kinds[::-1]


def test_alert_is_read_only_with_its_events(staff, alert):
    page = staff.get(f"/admin/risk/alert/{alert.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "看过了" in html  # the events inline
    assert 'name="status"' not in html and 'name="_save"' not in html
    # A POST cannot change it either: changes go through the services and their events.
    staff.post(f"/admin/risk/alert/{alert.pk}/change/", {"status": "resolved"})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_alerts_cannot_be_added_or_deleted_in_admin(staff, alert):
    assert staff.get("/admin/risk/alert/add/").status_code == 403
    assert staff.get(f"/admin/risk/alert/{alert.pk}/delete/").status_code == 403
    assert "delete_selected" not in staff.get("/admin/risk/alert/").content.decode()


def test_events_and_digests_are_listed_read_only(staff, alert, manager):
    AlertDigest.objects.create(manager=manager, day=datetime.date(2025, 6, 2), alerts=3, sent_at=timezone.now())
    events = staff.get("/admin/risk/alertevent/")
    assert events.status_code == 200 and "看过了" not in events.content.decode()  # note on the detail only
    assert len(events.context["cl"].result_list) == 2
    digests = staff.get("/admin/risk/alertdigest/")
    assert digests.status_code == 200 and str(manager) in digests.content.decode()
    assert staff.get("/admin/risk/alertdigest/add/").status_code == 403
    assert staff.get("/admin/risk/alertevent/add/").status_code == 403


def test_rule_with_alerts_cannot_be_deleted(staff, alert):
    assert staff.get(f"{RULES}{alert.rule.pk}/delete/").status_code == 403
