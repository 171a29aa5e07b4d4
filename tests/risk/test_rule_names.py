"""Alert rule names in the user's language: the Chinese name an admin (or risk/0009, for the
shipped rules) set, else the English one — on the alert list and its rule filter, the alert
page, the dashboard, the home page and the digest mail."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from crm.roles import Role
from risk.models import AlertRule
from risk.services import digest_send
from tests.factories import AlertFactory, AlertRuleFactory, make_user

ENGLISH = "Covenant breached"
CHINESE = "违反贷款约定条款"

fill_shipped_names = importlib.import_module("risk.migrations.0009_alertrule_chinese_names").fill


@pytest.fixture
def alert(customer):
    rule = AlertRuleFactory(name=ENGLISH, name_zh_hans=CHINESE, severity="critical")
    return AlertFactory(customer=customer, rule=rule, opened_at=timezone.now() - datetime.timedelta(hours=1))


def page(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_it_names_the_rule_in_the_users_language(client, alert, rm1, language):
    rm1.language = language
    rm1.save(update_fields=["language"])
    risk = make_user(Role.RISK_OFFICER, username="risk_reader", language=language)
    shown, hidden = (CHINESE, ENGLISH) if language == "zh-hans" else (ENGLISH, CHINESE)
    for user, url in [
        (rm1, reverse("risk:alerts")),
        (rm1, reverse("risk:alert", args=[alert.code])),
        (rm1, reverse("home")),
        (risk, reverse("risk:dashboard")),
    ]:
        html = page(client, user, url)
        assert shown in html, url
        assert hidden not in html, url


def test_it_lists_the_rule_filter_in_chinese(client, alert, rm1):
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    html = page(client, rm1, reverse("risk:alerts"))
    assert f'<option value="{alert.rule.pk}">{CHINESE}</option>' in html
    # A shipped rule, named in Chinese by the data migration.
    shipped = AlertRule.objects.get(name="Credit limit breached")
    assert f'<option value="{shipped.pk}">超出授信额度</option>' in html


def test_an_english_name_without_chinese_stays_english_in_chinese(client, customer, rm1):
    AlertFactory(customer=customer, rule=AlertRuleFactory(name="Untranslated rule"))
    rm1.language = "zh-hans"
    rm1.save(update_fields=["language"])
    assert "Untranslated rule" in page(client, rm1, reverse("risk:alerts"))


def test_the_data_migration_keeps_what_an_admin_wrote(db):
    rules = AlertRule.objects.filter(name__in=["Credit limit breached", "Debt ratio above 70%", "Review overdue"])
    assert dict(rules.values_list("name", "name_zh_hans")) == {
        "Credit limit breached": "超出授信额度",
        "Debt ratio above 70%": "资产负债率高于70%",
        "Review overdue": "复核逾期",
    }
    AlertRule.objects.filter(name="Credit limit breached").update(name_zh_hans="授信额度突破")  # admin's wording
    AlertRule.objects.filter(name="Debt ratio above 70%").update(name="Debt ratio above 75%", name_zh_hans="")
    AlertRule.objects.filter(name="Review overdue").update(name_zh_hans="")  # cleared: filled again

    fill_shipped_names(apps, None)

    assert AlertRule.objects.get(name="Credit limit breached").name_zh_hans == "授信额度突破"
    assert AlertRule.objects.get(name="Debt ratio above 75%").name_zh_hans == ""
    assert AlertRule.objects.get(name="Review overdue").name_zh_hans == "复核逾期"


def test_the_chinese_digest_names_the_rule_in_chinese(alert, mailoutbox):
    chinese_manager = make_user(Role.TEAM_MANAGER, team=alert.customer.team, username="zh_mgr", language="zh-hans")
    digest_send()
    (mail,) = [m for m in mailoutbox if m.to == [chinese_manager.email]]
    assert CHINESE in mail.body and CHINESE in mail.alternatives[0][0]
    assert ENGLISH not in mail.body
