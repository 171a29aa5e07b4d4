"""Alerts opened per local day (risk.models.AlertDayTotal), kept by triggers on risk_alert the
way 0014 keeps the counts per status, for the dashboard's "new alerts per week" chart.

The day is the date of ``opened_at`` in settings.TIME_ZONE as it is when this migration runs;
the zone is written into the triggers and recorded in risk_alertdayzone, and readers use the
kept days only while it is still the setting (risk.dashboard.live). To keep them in another
zone after a change of TIME_ZONE, migrate back to 0014 and forward again: the backfill counts
every alert anew.

PostgreSQL: statement-level triggers with transition tables, the delta grouped by key and
upserted in key order; the UPDATE trigger's delta cancels out unless an owner, team,
severity or opening time changed (the hourly "last seen" stamps write nothing). SQLite: row
triggers; the date in the zone comes from ``django_datetime_cast_date``, the function Django
registers on each of its SQLite connections (SQLite has no time zones), so only Django may
write alerts to a SQLite database — the development and test one. Like 0014, an alert inserted
before 0006 copies its owner and team counts under 0 and moves with that copy, and a deleted
alert only decrements."""

import re

from django.conf import settings
from django.db import migrations, models

KEY = "owner_id, team_id, severity, day"


def zone() -> str:
    name = settings.TIME_ZONE
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name):  # written into the triggers' SQL
        raise ValueError(f"TIME_ZONE {name!r} is not a time zone name")
    return name


def postgres_sql(tz: str) -> str:
    day = f"(opened_at AT TIME ZONE '{tz}')::date"
    added = f"SELECT coalesce(owner_id, 0) AS owner_id, coalesce(team_id, 0) AS team_id, severity, {day} AS day, 1 AS n FROM new_alerts"
    removed = f"SELECT coalesce(owner_id, 0) AS owner_id, coalesce(team_id, 0) AS team_id, severity, {day} AS day, -1 AS n FROM old_alerts"

    def function(name: str, delta: str) -> str:
        return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    INSERT INTO risk_alertdaytotal AS t ({KEY}, count)
    SELECT {KEY}, sum(n) FROM ({delta}) AS delta
    GROUP BY {KEY}
    HAVING sum(n) <> 0
    ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET count = t.count + excluded.count;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""

    return (
        function("risk_alert_day_insert", added)
        + function("risk_alert_day_update", f"{added} UNION ALL {removed}")
        + function("risk_alert_day_delete", removed)
        + """
CREATE OR REPLACE FUNCTION risk_alert_day_truncate() RETURNS trigger AS $$
BEGIN
    DELETE FROM risk_alertdaytotal;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER risk_alert_day_insert AFTER INSERT ON risk_alert
    REFERENCING NEW TABLE AS new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION risk_alert_day_insert();
CREATE TRIGGER risk_alert_day_update AFTER UPDATE ON risk_alert
    REFERENCING OLD TABLE AS old_alerts NEW TABLE AS new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION risk_alert_day_update();
CREATE TRIGGER risk_alert_day_delete AFTER DELETE ON risk_alert
    REFERENCING OLD TABLE AS old_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION risk_alert_day_delete();
CREATE TRIGGER risk_alert_day_truncate AFTER TRUNCATE ON risk_alert
    FOR EACH STATEMENT EXECUTE FUNCTION risk_alert_day_truncate();
"""
    )


POSTGRES_DROP = """
DROP TRIGGER IF EXISTS risk_alert_day_insert ON risk_alert;
DROP TRIGGER IF EXISTS risk_alert_day_update ON risk_alert;
DROP TRIGGER IF EXISTS risk_alert_day_delete ON risk_alert;
DROP TRIGGER IF EXISTS risk_alert_day_truncate ON risk_alert;
DROP FUNCTION IF EXISTS risk_alert_day_insert();
DROP FUNCTION IF EXISTS risk_alert_day_update();
DROP FUNCTION IF EXISTS risk_alert_day_delete();
DROP FUNCTION IF EXISTS risk_alert_day_truncate();
"""


def sqlite_sql(tz: str) -> list[str]:
    def day(row: str) -> str:
        return f"django_datetime_cast_date({row}.opened_at, '{tz}', 'UTC')"

    def upsert(row: str, n: int) -> str:
        return f"""
    INSERT INTO risk_alertdaytotal ({KEY}, "count")
    VALUES (coalesce({row}.owner_id, 0), coalesce({row}.team_id, 0), {row}.severity, {day(row)}, {n})
    ON CONFLICT ({KEY}) DO UPDATE SET "count" = "count" + excluded."count";
"""

    return [
        f"""
CREATE TRIGGER risk_alert_day_insert AFTER INSERT ON risk_alert FOR EACH ROW
BEGIN
{upsert("NEW", 1)}
END;
""",
        f"""
CREATE TRIGGER risk_alert_day_update
    AFTER UPDATE OF owner_id, team_id, severity, opened_at ON risk_alert
    FOR EACH ROW
    WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id OR OLD.severity IS NOT NEW.severity
        OR OLD.opened_at IS NOT NEW.opened_at
BEGIN
{upsert("OLD", -1)}
{upsert("NEW", 1)}
END;
""",
        f"""
CREATE TRIGGER risk_alert_day_delete AFTER DELETE ON risk_alert FOR EACH ROW
BEGIN
    UPDATE risk_alertdaytotal SET "count" = "count" - 1
        WHERE owner_id = coalesce(OLD.owner_id, 0) AND team_id = coalesce(OLD.team_id, 0)
            AND severity = OLD.severity AND day = {day("OLD")};
END;
""",
    ]


SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS risk_alert_day_insert;",
    "DROP TRIGGER IF EXISTS risk_alert_day_update;",
    "DROP TRIGGER IF EXISTS risk_alert_day_delete;",
]


def create_triggers(apps, schema_editor):
    tz = zone()
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(postgres_sql(tz))
        day = f"(opened_at AT TIME ZONE '{tz}')::date"
    elif vendor == "sqlite":
        for statement in sqlite_sql(tz):
            schema_editor.execute(statement)
        day = f"django_datetime_cast_date(opened_at, '{tz}', 'UTC')"
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(vendor)
    schema_editor.execute(
        f"""
        INSERT INTO risk_alertdaytotal ({KEY}, count)
        SELECT coalesce(owner_id, 0), coalesce(team_id, 0), severity, {day}, count(*)
        FROM risk_alert
        GROUP BY coalesce(owner_id, 0), coalesce(team_id, 0), severity, {day}
        """
    )
    apps.get_model("risk", "AlertDayZone").objects.using(schema_editor.connection.alias).create(zone=tz)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0014_alert_totals"),
    ]

    operations = [
        migrations.CreateModel(
            name="AlertDayZone",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("zone", models.CharField(max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name="AlertDayTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("owner_id", models.BigIntegerField()),
                ("team_id", models.BigIntegerField()),
                ("severity", models.CharField(max_length=10)),
                ("day", models.DateField()),
                ("count", models.IntegerField(default=0)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["day"], include=("severity", "count"), name="alert_day_total_day"),
                    models.Index(fields=["team_id", "day"], include=("severity", "count"), name="alert_day_total_team"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("owner_id", "team_id", "severity", "day"), name="alert_day_total_key")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
