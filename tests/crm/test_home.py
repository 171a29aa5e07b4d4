"""The home page: everyone's unresolved alerts on the customers they see, most severe first."""

import datetime

from django.urls import reverse
from django.utils import timezone

from risk.models import Alert, AlertRule, AlertStatus
from tests.factories import AlertFactory, AlertRuleFactory, CustomerFactory

T0 = datetime.datetime(2025, 6, 1, 2, 0, tzinfo=datetime.UTC)


def rule(name: str, severity: str = "warning") -> AlertRule:
    return AlertRuleFactory(name=name, kind="tier_downgrade", severity=severity)


def alert(customer, r: AlertRule, *, opened_at=None, status=AlertStatus.OPEN) -> Alert:
    return AlertFactory(customer=customer, rule=r, status=status, opened_at=opened_at or timezone.now())


def shown(response) -> list:
    return [a.code for a in response.context["alerts"]]


def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_rm_sees_own_alert_and_not_another_rms(client, rm1, customer, other_customer):
    r = rule("Downgrade")
    mine, theirs = alert(customer, r), alert(other_customer, r)
    client.force_login(rm1)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert shown(response) == [mine.code]
    page = response.content.decode()
    assert customer.name in page and reverse("risk:alert", args=[mine.code]) in page
    assert other_customer.name not in page and str(theirs.code) not in page


def test_team_manager_sees_the_teams_alerts_only(client, manager, customer, other_customer, west_customer):
    r = rule("Downgrade")
    mine, theirs, west = alert(customer, r), alert(other_customer, r), alert(west_customer, r)
    client.force_login(manager)
    codes = set(shown(client.get(reverse("home"))))
    assert codes == {mine.code, theirs.code} and west.code not in codes


def test_critical_first_then_newest_and_resolved_left_out(client, rm1, customer):
    old_critical = alert(customer, rule("Overdue", "critical"), opened_at=T0)
    new_warning = alert(customer, rule("Downgrade", "warning"), opened_at=T0 + datetime.timedelta(days=2))
    newer_info = alert(customer, rule("Review", "info"), opened_at=T0 + datetime.timedelta(days=3))
    acknowledged = alert(
        customer, rule("Breach", "warning"), opened_at=T0 + datetime.timedelta(days=1), status=AlertStatus.ACKNOWLEDGED
    )
    alert(customer, rule("Stale", "critical"), opened_at=T0 + datetime.timedelta(days=5), status=AlertStatus.RESOLVED)
    client.force_login(rm1)
    assert shown(client.get(reverse("home"))) == [
        old_critical.code,
        new_warning.code,
        acknowledged.code,
        newer_info.code,
    ]


def test_at_most_ten_with_a_link_to_the_full_list(client, rm1, manager, django_assert_max_num_queries):
    rules = [rule(f"Rule {i}") for i in range(3)]
    for i in range(12):
        c = CustomerFactory(owner=rm1, team=rm1.team)
        for r in rules:
            alert(c, r, opened_at=T0 + datetime.timedelta(minutes=i))
    # Escalated alerts name the manager they went to: still no query per row.
    Alert.objects.update(escalated_at=T0, escalated_to=manager)
    client.force_login(rm1)
    # Session, user, role, the team in the menu, the session touch (4 with its savepoint), and
    # two for the alerts: the ten shown and the capped count; late background work (top bar);
    # the count of exceptions waiting for a decision (none: no list is read).
    with django_assert_max_num_queries(11):
        response = client.get(reverse("home"))
    assert len(response.context["alerts"]) == 10
    page = response.content.decode()
    assert "36 unresolved" in page
    assert reverse("risk:alerts") + "?status=unresolved" in page


def test_no_alerts_says_so_and_offers_the_quick_links(client, rm1):
    client.force_login(rm1)
    page = client.get(reverse("home")).content.decode()
    assert "No unresolved alerts on your customers." in page
    for name in ("customers:list", "funnel:board", "risk:alerts", "risk:dashboard"):
        assert f'href="{reverse(name)}"' in page
