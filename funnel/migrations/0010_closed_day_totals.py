"""Per-day totals of the closed deals (funnel.models.ClosedDayTotal), kept by triggers on
funnel_deal exactly as 0008 keeps the open stages' totals (read its docstring: statement-level
triggers with transition tables on PostgreSQL, upserts in key order, TRUNCATE; row triggers on
SQLite). Only deals in a closed stage (Funded, Lost) count, under the UTC date they entered it:
the board sums the days of its window instead of every deal that closed in it."""

from django.db import migrations, models

CLOSED = "('funded', 'lost')"
POSTGRES_DAY = "(stage_entered_at AT TIME ZONE 'UTC')::date"
# SQLite stores a datetime as UTC text: date() is its UTC date.
SQLITE_DAY = "date({row}.stage_entered_at)"

UPSERT = """
    INSERT INTO funnel_closeddaytotal AS t (owner_id, team_id, stage, day, count, amount, weighted)
    SELECT owner_id, team_id, stage, day, sum(n), sum(amount), sum(weighted)
    FROM ({delta}) AS delta
    GROUP BY owner_id, team_id, stage, day
    HAVING sum(n) <> 0 OR sum(amount) <> 0 OR sum(weighted) <> 0
    ORDER BY owner_id, team_id, stage, day
    ON CONFLICT (owner_id, team_id, stage, day) DO UPDATE
        SET count = t.count + excluded.count,
            amount = t.amount + excluded.amount,
            weighted = t.weighted + excluded.weighted;
"""
ADDED = (
    f"SELECT owner_id, team_id, stage, {POSTGRES_DAY} AS day, 1 AS n, amount, amount * probability AS weighted"
    f" FROM new_deals WHERE stage IN {CLOSED}"
)
REMOVED = (
    f"SELECT owner_id, team_id, stage, {POSTGRES_DAY} AS day, -1 AS n, -amount AS amount,"
    f" -amount * probability AS weighted FROM old_deals WHERE stage IN {CLOSED}"
)


def postgres_function(name: str, delta: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    {UPSERT.format(delta=delta).strip()}
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""


POSTGRES_TRIGGERS = (
    postgres_function("funnel_closed_total_insert", ADDED)
    + postgres_function("funnel_closed_total_update", f"{ADDED} UNION ALL {REMOVED}")
    + postgres_function("funnel_closed_total_delete", REMOVED)
    + """
CREATE OR REPLACE FUNCTION funnel_closed_total_truncate() RETURNS trigger AS $$
BEGIN
    DELETE FROM funnel_closeddaytotal;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER funnel_closed_total_insert AFTER INSERT ON funnel_deal
    REFERENCING NEW TABLE AS new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_closed_total_insert();
CREATE TRIGGER funnel_closed_total_update AFTER UPDATE ON funnel_deal
    REFERENCING OLD TABLE AS old_deals NEW TABLE AS new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_closed_total_update();
CREATE TRIGGER funnel_closed_total_delete AFTER DELETE ON funnel_deal
    REFERENCING OLD TABLE AS old_deals
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_closed_total_delete();
CREATE TRIGGER funnel_closed_total_truncate AFTER TRUNCATE ON funnel_deal
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_closed_total_truncate();
"""
)
POSTGRES_DROP = "".join(
    f"DROP TRIGGER IF EXISTS funnel_closed_total_{event} ON funnel_deal;"
    f"DROP FUNCTION IF EXISTS funnel_closed_total_{event}();"
    for event in ("insert", "update", "delete", "truncate")
)

SQLITE_ADD = f"""
    INSERT INTO funnel_closeddaytotal (owner_id, team_id, stage, day, "count", amount, weighted)
    SELECT NEW.owner_id, NEW.team_id, NEW.stage, {SQLITE_DAY.format(row="NEW")}, 1, NEW.amount,
           NEW.amount * NEW.probability
    WHERE NEW.stage IN {CLOSED}
    ON CONFLICT (owner_id, team_id, stage, day) DO UPDATE
        SET "count" = "count" + 1, amount = amount + excluded.amount, weighted = weighted + excluded.weighted;
"""
SQLITE_TAKE = f"""
    UPDATE funnel_closeddaytotal
        SET "count" = "count" - 1, amount = amount - OLD.amount, weighted = weighted - OLD.amount * OLD.probability
        WHERE owner_id = OLD.owner_id AND team_id = OLD.team_id AND stage = OLD.stage
          AND day = {SQLITE_DAY.format(row="OLD")} AND OLD.stage IN {CLOSED};
"""
SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER funnel_closed_total_insert AFTER INSERT ON funnel_deal FOR EACH ROW
BEGIN
{SQLITE_ADD}
END;
""",
    f"""
CREATE TRIGGER funnel_closed_total_update
    AFTER UPDATE OF owner_id, team_id, stage, stage_entered_at, amount, probability ON funnel_deal
    FOR EACH ROW
    WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id OR OLD.stage IS NOT NEW.stage
        OR OLD.stage_entered_at IS NOT NEW.stage_entered_at OR OLD.amount IS NOT NEW.amount
        OR OLD.probability IS NOT NEW.probability
BEGIN
{SQLITE_TAKE}
{SQLITE_ADD}
END;
""",
    f"""
CREATE TRIGGER funnel_closed_total_delete AFTER DELETE ON funnel_deal FOR EACH ROW
BEGIN
{SQLITE_TAKE}
END;
""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS funnel_closed_total_{event};" for event in ("insert", "update", "delete")]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_TRIGGERS)
        day = POSTGRES_DAY
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
        day = SQLITE_DAY.format(row="funnel_deal")
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(vendor)
    # After the triggers, in the migration's transaction (see 0008): nothing missed or doubled.
    schema_editor.execute(f"""
        INSERT INTO funnel_closeddaytotal (owner_id, team_id, stage, day, count, amount, weighted)
        SELECT owner_id, team_id, stage, {day}, count(*), sum(amount), sum(amount * probability)
        FROM funnel_deal WHERE stage IN {CLOSED}
        GROUP BY owner_id, team_id, stage, {day}
    """)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("funnel", "0009_deal_stale_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClosedDayTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("owner_id", models.BigIntegerField()),
                ("team_id", models.BigIntegerField()),
                ("stage", models.CharField(max_length=20)),
                ("day", models.DateField()),
                ("count", models.IntegerField(default=0)),
                ("amount", models.DecimalField(decimal_places=2, default=0, max_digits=22)),
                ("weighted", models.DecimalField(decimal_places=2, default=0, max_digits=24)),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["day"], include=("stage", "count", "amount", "weighted"), name="closed_total_day"
                    ),
                    models.Index(fields=["team_id", "day"], name="closed_total_team_day"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("owner_id", "team_id", "stage", "day"), name="closed_day_total_key")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
