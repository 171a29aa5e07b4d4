"""The managers' daily alert digest (risk.services.digest)."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from crm.models import User
from crm.roles import Role
from risk.models import Alert, AlertDigest, AlertKind, AlertSeverity, AlertStatus
from risk.services import digest_send
from tests.conftest import free_port
from tests.factories import AlertFactory, AlertRuleFactory, make_user

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
RUN = datetime.datetime(2025, 6, 3, 7, 30, tzinfo=SHANGHAI)  # beat's 07:30 run
DAY = datetime.date(2025, 6, 3)
HOUR = datetime.timedelta(hours=1)
SITE = "https://crm.example.com"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def clock():
    with time_machine.travel(RUN, tick=False) as traveller:
        yield traveller


def raise_alert(customer, name: str, *, opened_at, severity=AlertSeverity.CRITICAL, **fields) -> Alert:
    rule = AlertRuleFactory(name=name, kind=AlertKind.LIMIT_BREACH, severity=severity)
    return AlertFactory(customer=customer, rule=rule, opened_at=opened_at, **fields)


def link(alert: Alert) -> str:
    return SITE + reverse("risk:alert", args=[alert.code])


@pytest.fixture
def west_manager(other_team):
    return make_user(Role.TEAM_MANAGER, team=other_team, username="west_manager", language="zh-hans")


@pytest.fixture
def alerts(clock, manager, west_manager, customer, other_customer, west_customer, rm1):
    """East: one alert new in the window, one escalated in it (opened earlier), one too old,
    one resolved since it opened. West: one new alert."""
    return {
        "new": raise_alert(customer, "Credit limit breached", opened_at=RUN - 10 * HOUR),
        "escalated": raise_alert(
            other_customer,
            "Payment more than 30 days overdue",
            opened_at=RUN - 30 * HOUR,
            escalated_at=RUN - 2 * HOUR,
            escalated_to=manager,
        ),
        "old": raise_alert(customer, "Downgrade from AA or A", opened_at=RUN - 25 * HOUR),
        "resolved": raise_alert(
            other_customer,
            "Debt ratio above 70%",
            opened_at=RUN - 5 * HOUR,
            severity=AlertSeverity.WARNING,
            status=AlertStatus.RESOLVED,
        ),
        "west": raise_alert(west_customer, "Score dropped", opened_at=RUN - HOUR),
    }


def mail_to(mailoutbox, user):
    (mail,) = [m for m in mailoutbox if m.to == [user.email]]
    return mail


def test_manager_gets_their_teams_new_and_escalated_alerts(alerts, manager, customer, other_customer, mailoutbox):
    assert digest_send() == {"sent": 2, "empty": 0, "already": 0, "failed": 0}
    mail = mail_to(mailoutbox, manager)
    assert mail.subject == "Alert digest 2025-06-03: 2 new, 1 escalated"
    text = mail.body
    escalated_part, new_part = text.split("== New: 2 alerts ==")
    assert "== Escalated: 1 alert ==" in escalated_part
    assert "[Critical] 远航港口建设有限公司 — Payment more than 30 days overdue (Open)" in escalated_part
    assert link(alerts["escalated"]) in escalated_part
    assert "[Critical] 华东光伏电站项目有限公司 — Credit limit breached (Open)" in new_part
    assert "[Warning] 远航港口建设有限公司 — Debt ratio above 70% (Resolved)" in new_part
    assert link(alerts["new"]) in new_part and link(alerts["resolved"]) in new_part
    # Critical before warning.
    assert new_part.index("Credit limit breached") < new_part.index("Debt ratio above 70%")
    # Opened 25 hours before the run: yesterday's digest had it. Another team's: never.
    assert "Downgrade from AA or A" not in text
    assert "西部矿业资源有限公司" not in text and "Score dropped" not in text
    assert "2025-06-02 07:30" in text and "2025-06-03 07:30" in text  # the window, local time

    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link(alerts["escalated"])}"' in html and f'href="{link(alerts["new"])}"' in html
    assert "西部矿业资源有限公司" not in html
    assert AlertDigest.objects.get(manager=manager, day=DAY).alerts == 3


def test_manager_whose_language_is_chinese_gets_it_in_chinese(alerts, west_manager, mailoutbox):
    digest_send()
    mail = mail_to(mailoutbox, west_manager)
    assert "[严重] 西部矿业资源有限公司 — Score dropped (未处理)" in mail.body
    assert "Critical" not in mail.body and "(Open)" not in mail.body
    html = mail.alternatives[0][0]
    assert '<html lang="zh-hans">' in html and "严重" in html
    assert link(alerts["west"]) in html
    assert "华东光伏电站项目有限公司" not in mail.body


def test_a_second_run_the_same_day_sends_nothing(alerts, clock, mailoutbox):
    digest_send()
    clock.shift(3 * HOUR)
    raise_alert(alerts["new"].customer, "Another rule", opened_at=RUN + HOUR)
    assert digest_send() == {"sent": 0, "empty": 0, "already": 2, "failed": 0}
    assert len(mailoutbox) == 2


def test_next_days_digest_starts_where_the_last_one_ended(alerts, clock, manager, customer, mailoutbox):
    digest_send()
    just_after = raise_alert(customer, "Opened just after the digest", opened_at=RUN + datetime.timedelta(seconds=1))
    clock.shift(24 * HOUR + 20 * datetime.timedelta(minutes=1))  # tomorrow's run, 20 minutes late
    digest_send()
    tomorrow = [m for m in mailoutbox if m.to == [manager.email]][1]
    assert tomorrow.subject == "Alert digest 2025-06-04: 1 new, 0 escalated"
    assert link(just_after) in tomorrow.body
    assert link(alerts["new"]) not in tomorrow.body  # in yesterday's digest
    assert "2025-06-03 07:30" in tomorrow.body and "2025-06-04 07:50" in tomorrow.body


def test_a_day_with_nothing_to_report_sends_nothing_but_is_recorded(clock, manager, mailoutbox):
    assert digest_send() == {"sent": 0, "empty": 1, "already": 0, "failed": 0}
    assert mailoutbox == []
    row = AlertDigest.objects.get(manager=manager)
    assert (row.day, row.alerts, row.sent_at) == (DAY, 0, RUN)
    assert digest_send()["already"] == 1


def test_managers_without_email_inactive_or_without_team_get_nothing(alerts, manager, west_manager, mailoutbox):
    User.objects.filter(pk=manager.pk).update(email="")
    User.objects.filter(pk=west_manager.pk).update(is_active=False)
    make_user(Role.TEAM_MANAGER, team=None, username="no_team_manager")
    assert digest_send() == {"sent": 0, "empty": 0, "already": 0, "failed": 0}
    assert mailoutbox == []
    assert not AlertDigest.objects.exists()


def test_a_digest_that_fails_to_go_out_is_sent_by_the_next_run(alerts, clock, settings, manager, mailoutbox):
    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2  # nobody listens
    assert digest_send()["failed"] == 2
    assert AlertDigest.objects.get(manager=manager).sent_at is None

    settings.EMAIL_BACKEND = backend
    clock.shift(HOUR)
    assert digest_send()["sent"] == 2
    assert link(alerts["new"]) in mail_to(mailoutbox, manager).body


def test_a_flood_of_alerts_lists_the_worst_and_counts_the_rest(clock, manager, customer, mailoutbox, monkeypatch):
    monkeypatch.setattr("risk.services.digest.LISTED", 3)
    raise_alert(customer, "Debt ratio above 70%", opened_at=RUN - HOUR, severity=AlertSeverity.WARNING)
    for i in range(4):
        raise_alert(customer, f"Credit limit breached {i}", opened_at=RUN - (i + 2) * HOUR)
    assert digest_send()["sent"] == 1
    body = mail_to(mailoutbox, manager).body
    assert "New: 5 alerts" in body  # the whole count
    assert body.count(SITE + "/risk/alerts/") == 4  # three listed, and the link to all
    assert "Debt ratio above 70%" not in body  # the warning is the one left out: critical first
    assert "… and 2 more (all alerts: link below)." in body
    assert AlertDigest.objects.get(manager=manager).alerts == 5
