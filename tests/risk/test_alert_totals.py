"""The alert counts (risk.models.AlertTotal) stay equal to the alerts whatever writes them: the
evaluation's bulk insert, the services that acknowledge and resolve, plain ORM saves and bulk
statements, deletes, and the trigger that moves alerts with their customer. The triggers are in
migration 0014."""

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from crm.roles import Role
from customers.models import Customer
from customers.services import customer_update
from risk.alerts.inserts import insert_alerts
from risk.models import Alert, AlertDayTotal, AlertDayZone, AlertSeverity, AlertStatus, AlertTotal
from risk.services.alerts import alert_acknowledge, alert_resolve
from tests.conftest import alert_days_kept, alert_days_live, alert_totals_kept, alert_totals_live, unapplied_migrations
from tests.factories import AlertFactory, AlertRuleFactory, CustomerFactory, make_user
from tests.stateful import InSavepoint, machine_settings

pytestmark = pytest.mark.django_db


def test_a_raised_alert_is_counted_under_its_customers_rm_and_team(customer, rm1):
    AlertFactory(customer=customer, rule__severity=AlertSeverity.CRITICAL)
    assert alert_totals_kept() == {(rm1.pk, rm1.team_id, "critical", "open"): 1}


def test_an_alert_counts_on_its_local_day(customer, rm1):
    """16:30 UTC is half past midnight the next day in Shanghai."""
    evening = datetime.datetime(2026, 3, 1, 16, 30, tzinfo=datetime.UTC)
    AlertFactory(customer=customer, opened_at=evening)
    AlertFactory(customer=customer, opened_at=evening - datetime.timedelta(hours=1))
    assert alert_days_kept() == {
        (rm1.pk, rm1.team_id, "warning", datetime.date(2026, 3, 2)): 1,
        (rm1.pk, rm1.team_id, "warning", datetime.date(2026, 3, 1)): 1,
    }


def test_the_evaluations_bulk_insert_is_counted(customer, other_customer, west_customer, rm1, rm2, rm_west):
    rule = AlertRuleFactory(severity=AlertSeverity.INFO)
    insert_alerts(rule, [customer.pk, other_customer.pk, west_customer.pk], {}, now=timezone.now())
    assert alert_totals_kept() == {
        (rm1.pk, rm1.team_id, "info", "open"): 1,
        (rm2.pk, rm2.team_id, "info", "open"): 1,
        (rm_west.pk, rm_west.team_id, "info", "open"): 1,
    }
    assert alert_totals_kept() == alert_totals_live()
    assert alert_days_kept() == alert_days_live()


def test_acknowledging_and_resolving_move_the_count(customer, rm1, manager):
    first, second = AlertFactory.create_batch(2, customer=customer)
    alert_acknowledge(alert=first, by=manager)
    alert_resolve(alert=second, by=manager, note="Covenant waiver signed.")
    key = (rm1.pk, rm1.team_id, "warning")
    assert alert_totals_kept() == {(*key, "acknowledged"): 1, (*key, "resolved"): 1}


def test_the_alerts_follow_their_customer_to_another_rm(customer, rm1, rm_west, risk_officer):
    AlertFactory.create_batch(2, customer=customer)
    customer_update(customer=customer, by=risk_officer, owner=rm_west)
    assert alert_totals_kept() == {(rm_west.pk, rm_west.team_id, "warning", "open"): 2}
    assert alert_totals_kept() == alert_totals_live()
    assert alert_days_kept() == alert_days_live()


def test_last_seen_stamps_write_no_counts(customer):
    AlertFactory.create_batch(3, customer=customer)
    before = list(AlertTotal.objects.values_list("pk", "count")), list(AlertDayTotal.objects.values_list("pk", "count"))
    Alert.objects.update(last_seen_at=timezone.now())  # the hourly evaluation's stamp
    after = list(AlertTotal.objects.values_list("pk", "count")), list(AlertDayTotal.objects.values_list("pk", "count"))
    assert after == before


def test_deleted_alerts_leave_the_counts(customer, other_customer):
    AlertFactory.create_batch(2, customer=customer)
    AlertFactory(customer=other_customer).delete()
    Alert.objects.filter(customer=customer).delete()
    assert alert_totals_kept() == {} == alert_totals_live()
    assert alert_days_kept() == {} == alert_days_live()


def test_emptying_the_alert_table_empties_the_counts(customer):
    AlertFactory.create_batch(2, customer=customer)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's transaction holds deferred foreign-key checks, which TRUNCATE refuses.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE risk_alert CASCADE")
        else:  # SQLite has no TRUNCATE; its DELETE without WHERE runs the row triggers.
            cursor.execute("DELETE FROM risk_alertevent")
            cursor.execute("DELETE FROM risk_alert")
    assert alert_totals_kept() == {} == alert_totals_live()
    assert alert_days_kept() == {} == alert_days_live()
    AlertFactory(customer=customer)
    assert alert_totals_kept() == alert_totals_live() != {}
    assert alert_days_kept() == alert_days_live() != {}


# --- Random play ---------------------------------------------------------------------------------
RMS = ["rm1", "rm2", "rm_west"]
CUSTOMERS = 4
picks = st.integers(min_value=0, max_value=10**6)  # which alert: taken modulo the alerts there are
severities = st.sampled_from(AlertSeverity.values)
statuses = st.sampled_from(AlertStatus.values)


class AlertTotals(InSavepoint):
    """Alerts raised one by one and in bulk, acknowledged, resolved, re-graded by admin, stamped,
    deleted, and their customers handed to another RM (or team), in any order. Each example runs
    in a savepoint rolled back at its end, so each starts from no alerts."""

    def __init__(self, cast: dict, customers: list[Customer]):
        super().__init__()
        self.cast = cast
        self.customers = customers

    def pick(self, i: int) -> Alert | None:
        ids = list(Alert.objects.order_by("pk").values_list("pk", flat=True))
        return Alert.objects.get(pk=ids[i % len(ids)]) if ids else None

    @rule(c=st.integers(0, CUSTOMERS - 1), severity=severities)
    def raise_one(self, c, severity):
        AlertFactory(customer=self.customers[c], rule=AlertRuleFactory(severity=severity))

    @rule(cs=st.sets(st.integers(0, CUSTOMERS - 1), min_size=1), severity=severities)
    def raise_in_bulk(self, cs, severity):
        """The evaluation's insert: one statement, raw SQL on PostgreSQL."""
        rule = AlertRuleFactory(severity=severity)
        insert_alerts(rule, sorted(self.customers[c].pk for c in cs), {}, now=timezone.now())

    @rule(i=picks)
    def acknowledge(self, i):
        alert = self.pick(i)
        if alert is not None and alert.status == AlertStatus.OPEN:
            alert_acknowledge(alert=alert, by=self.cast["risk"])

    @rule(i=picks)
    def resolve(self, i):
        alert = self.pick(i)
        if alert is not None and alert.status != AlertStatus.RESOLVED:
            alert_resolve(alert=alert, by=self.cast["risk"], note="Paid in full.")

    @rule(i=picks, severity=severities, status=statuses)
    def edit(self, i, severity, status):
        """A full save(), as Django admin does: every column written, some changed."""
        alert = self.pick(i)
        if alert is not None and (status == AlertStatus.RESOLVED or alert.status != AlertStatus.RESOLVED):
            alert.severity, alert.status = severity, status
            alert.save()

    @rule(frm=statuses, severity=severities)
    def reclassify_in_bulk(self, frm, severity):
        Alert.objects.filter(status=frm).update(severity=severity)

    @rule()
    def stamp_everything(self):
        """The hourly evaluation's "last seen" UPDATE: none of the four columns change."""
        Alert.objects.update(last_seen_at=F("last_seen_at") + datetime.timedelta(hours=1))

    @rule(i=picks)
    def delete(self, i):
        alert = self.pick(i)
        if alert is not None:
            alert.delete()  # its events with it

    @rule(status=statuses)
    def delete_in_bulk(self, status):
        Alert.objects.filter(status=status).delete()

    @rule(c=st.integers(0, CUSTOMERS - 1), rm=st.sampled_from(RMS))
    def reassign(self, c, rm):
        """The customer's alerts follow it (trigger risk_alert_follow_customer)."""
        customer = Customer.objects.get(pk=self.customers[c].pk)
        customer_update(customer=customer, by=self.cast["risk"], owner=self.cast[rm])

    @rule(i=picks, days=st.integers(0, 100), hour=st.sampled_from([0, 15, 16, 23]))
    def backdate(self, i, days, hour):
        """An alert opened at another time (a data fix): 15:30 and 16:30 UTC fall on two local
        days in Shanghai."""
        alert = self.pick(i)
        if alert is not None:
            opened = timezone.now().replace(hour=hour, minute=30) - datetime.timedelta(days=days)
            Alert.objects.filter(pk=alert.pk).update(opened_at=opened)

    @invariant()
    def counts_equal_the_alerts(self):
        assert alert_totals_kept() == alert_totals_live()
        assert alert_days_kept() == alert_days_live()


def test_alert_counts_equal_the_alerts_under_random_play(team, other_team):
    cast = {
        "rm1": make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm1"),
        "rm2": make_user(Role.RELATIONSHIP_MANAGER, team=team, username="rm2"),
        "rm_west": make_user(Role.RELATIONSHIP_MANAGER, team=other_team, username="rm_west"),
        "risk": make_user(Role.RISK_OFFICER, username="risk"),
    }
    owners = [cast["rm1"], cast["rm1"], cast["rm2"], cast["rm_west"]]
    customers = [CustomerFactory(owner=rm, team=rm.team) for rm in owners]
    run_state_machine_as_test(
        lambda: AlertTotals(cast, customers),
        settings=machine_settings(examples=50, steps=25),
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_counts_the_alerts_already_there_and_reverses(customer, other_customer, manager):
    AlertFactory.create_batch(2, customer=customer)
    try:
        call_command("migrate", "risk", "0013", verbosity=0)
        assert "risk_alerttotal" not in connection.introspection.table_names()
        assert "risk_alertdaytotal" not in connection.introspection.table_names()
        AlertFactory(customer=other_customer, rule__severity=AlertSeverity.CRITICAL)
        alert_acknowledge(alert=Alert.objects.filter(customer=customer).first(), by=manager)
    finally:
        call_command("migrate", verbosity=0)
    assert unapplied_migrations() == []  # the rest of the suite runs on the whole schema
    kept = alert_totals_kept()
    assert kept == alert_totals_live()
    assert len(kept) == 3
    assert alert_days_kept() == alert_days_live() != {}
    assert AlertDayZone.objects.get().zone == "Asia/Shanghai"
    AlertFactory(customer=other_customer)  # the triggers are back
    assert alert_totals_kept() == alert_totals_live()
    assert alert_days_kept() == alert_days_live()
