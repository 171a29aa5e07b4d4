"""The evaluation's bulk inserts, written for the first run over a portfolio, which raises
hundreds of thousands of alerts in a minute: condition rows that say which of them this run
claimed, and alerts inserted with their ``opened`` events in one statement.

PostgreSQL gets raw SQL fed by arrays (``unnest``): Django's ``bulk_create`` spends most of its
time building model instances and quoting one array per column, more than the database spends
writing. SQLite (development, tests) goes through the ORM where it can. Both paths run in the
test suite."""

import datetime
import json
import uuid

from django.db import connection
from django.db.models import Model

from risk.models import Alert, AlertCondition, AlertEvent, AlertEventKind, AlertRule, AlertStatus


def insert_bad_conditions(rule: AlertRule, customer_ids: list[int], *, now: datetime.datetime) -> set[int]:
    """Insert a bad condition row for each customer that has none; return the customers whose
    row this call inserted. (``bulk_create(ignore_conflicts=True)`` cannot say which rows it
    skipped, hence ``INSERT … ON CONFLICT DO NOTHING RETURNING``, on PostgreSQL and SQLite.)
    Rows go in in the order given (ascending ids)."""
    if not customer_ids:
        return set()
    meta = AlertCondition._meta
    qn = connection.ops.quote_name
    column = {name: qn(meta.get_field(name).column) for name in ("customer", "rule", "is_bad", "since")}
    stamp = connection.ops.adapt_datetimefield_value(now)
    into = f"INSERT INTO {qn(meta.db_table)} ({', '.join(column.values())})"
    if connection.vendor == "postgresql":
        rows = "SELECT id, %s, TRUE, %s FROM unnest(%s::bigint[]) AS claimed(id)"
        params = [rule.pk, stamp, customer_ids]
    else:
        rows = "VALUES " + ", ".join(["(%s, %s, %s, %s)"] * len(customer_ids))
        params = [value for pk in customer_ids for value in (pk, rule.pk, True, stamp)]
    # Names from the model's metadata, every value a bound parameter.
    sql = f"{into} {rows} ON CONFLICT DO NOTHING RETURNING {column['customer']}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pk for (pk,) in cursor.fetchall()}


def insert_alerts(rule: AlertRule, customer_ids: list[int], observed: dict, *, now: datetime.datetime) -> list[int]:
    """An open alert per customer, with ``observed[customer id]`` and an ``opened`` event;
    returns the new alerts' ids."""
    if not customer_ids:
        return []
    if connection.vendor != "postgresql":
        alerts = Alert.objects.bulk_create(
            Alert(
                code=uuid.uuid4(),
                customer_id=pk,
                rule=rule,
                severity=rule.severity,
                status=AlertStatus.OPEN,
                observed=observed.get(pk, {}),
                opened_at=now,
                last_seen_at=now,
            )
            for pk in customer_ids
        )
        AlertEvent.objects.bulk_create(
            AlertEvent(alert_id=alert.pk, kind=AlertEventKind.OPENED, at=now) for alert in alerts
        )
        return [alert.pk for alert in alerts]
    alert_columns, alert_values = _columns(
        Alert,
        code="gen_random_uuid()",
        customer="raised.customer_id",
        rule="%(rule)s",
        severity="%(severity)s",
        status="%(open)s",
        observed="raised.observed::jsonb",
        opened_at="%(now)s",
        last_seen_at="%(now)s",
    )
    event_columns, event_values = _columns(AlertEvent, alert="fresh.id", kind="%(opened)s", at="%(now)s")
    qn = connection.ops.quote_name
    # Table and column names from the models' metadata, every value a bound parameter.
    sql = f"""
        WITH raised AS (
            SELECT * FROM unnest(%(customers)s::bigint[], %(observed)s::text[]) AS raised(customer_id, observed)
        ), fresh AS (
            INSERT INTO {qn(Alert._meta.db_table)} ({alert_columns}) SELECT {alert_values} FROM raised RETURNING id
        )
        INSERT INTO {qn(AlertEvent._meta.db_table)} ({event_columns}) SELECT {event_values} FROM fresh
        RETURNING {qn(AlertEvent._meta.get_field("alert").column)}
    """  # noqa: S608
    params = {
        "customers": customer_ids,
        "observed": [json.dumps(observed.get(pk, {})) for pk in customer_ids],
        "rule": rule.pk,
        "severity": rule.severity,
        "open": AlertStatus.OPEN.value,
        "opened": AlertEventKind.OPENED.value,
        "now": now,
        **_defaults(Alert),
        **_defaults(AlertEvent),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def _columns(model: type[Model], **given: str) -> tuple[str, str]:
    """Column list and SELECT list inserting a row of ``model``: the SQL ``given`` per field;
    every other field NULL if it may be, else its default (see _defaults). Built from the model,
    so a field added later is not silently left out."""
    qn = connection.ops.quote_name
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(qn(field.column))
        if field.name in given:
            values.append(given[field.name])
        elif field.null:
            values.append("NULL")
        else:
            values.append(f"%({_default_key(model, field.name)})s")
    return ", ".join(columns), ", ".join(values)


def _defaults(model: type[Model]) -> dict:
    return {
        _default_key(model, field.name): field.get_db_prep_save(field.get_default(), connection)
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.null
    }


def _default_key(model: type[Model], name: str) -> str:
    return f"default_{model._meta.model_name}_{name}"
