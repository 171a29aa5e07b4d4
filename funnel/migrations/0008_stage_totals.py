"""Per-stage totals of the deals (funnel.models.StageTotal), kept by triggers on funnel_deal.

The board of someone who sees the whole firm summed every open deal on each load (500k at 1M
customers); it now sums a few hundred rows of totals. Triggers, not Python, keep them: deals are
written by the services, Django admin, imports, bulk UPDATEs, the trigger that moves deals with
their customer (0004), deletes and COPY, and every one of those must move the totals.

PostgreSQL: one statement-level trigger per event, reading the statement's transition tables.
The rows a statement added count plus, the rows it removed minus; the delta is grouped by
(owner, team, stage), groups that cancel out are dropped, the rest upserted in key order:
- one upsert per statement, not per row, so a bulk UPDATE or a COPY of two million deals adds
  one aggregate, not two million upserts;
- two transactions upsert the rows they share in the same order (the key's), so they queue on
  each other's row locks instead of deadlocking; the second's ON CONFLICT DO UPDATE adds to the
  first one's committed figures, so no update is lost;
- PostgreSQL allows no column list (UPDATE OF) on a trigger with transition tables, so the
  UPDATE trigger runs for every UPDATE of deals; one that changes no owner, team, stage, amount
  or probability (flagging stale deals, editing a title) cancels out to an empty delta and
  writes nothing, so it takes no lock on the totals.
TRUNCATE of funnel_deal (benchmarks, test flushes) empties the totals.
The price: a transaction that changes a deal's figures holds its (owner, team, stage) rows until
it commits, so writers to the same RM's stages queue for that long. The key order rules out
deadlocks between transactions that write deals in one statement each, as every service does;
two that each wrote deals in several statements, in opposite orders, could still meet.

SQLite: row-level triggers; the UPDATE one only when one of those five columns changed. A
deleted deal's row is only decremented, never created: the deal was counted, so its row exists,
and Django's test flush (DELETE FROM every table, in whatever order) must not leave negative
rows behind when it empties the totals before the deals.

The backfill runs after the triggers exist, in the migration's transaction: on PostgreSQL
CREATE TRIGGER holds off writers to funnel_deal until the migration commits, so no deal written
meanwhile is missed or counted twice."""

from django.db import migrations, models

# The upsert of all three PostgreSQL triggers; ``delta`` is the rows the statement added (plus) and
# removed (minus). Groups that cancel out (an UPDATE that left the five columns alone) are dropped;
# the rest are written in the key's order, the same in every transaction.
UPSERT = """
    INSERT INTO funnel_stagetotal AS t (owner_id, team_id, stage, count, amount, weighted)
    SELECT owner_id, team_id, stage, sum(n), sum(amount), sum(weighted)
    FROM ({delta}) AS delta
    GROUP BY owner_id, team_id, stage
    HAVING sum(n) <> 0 OR sum(amount) <> 0 OR sum(weighted) <> 0
    ORDER BY owner_id, team_id, stage
    ON CONFLICT (owner_id, team_id, stage) DO UPDATE
        SET count = t.count + excluded.count,
            amount = t.amount + excluded.amount,
            weighted = t.weighted + excluded.weighted;
"""
# What the rows a statement added bring, and what the rows it removed take away.
ADDED = "SELECT owner_id, team_id, stage, 1 AS n, amount, amount * probability AS weighted FROM new_deals"
REMOVED = "SELECT owner_id, team_id, stage, -1 AS n, -amount AS amount, -amount * probability AS weighted FROM old_deals"


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
    postgres_function("funnel_stage_total_insert", ADDED)
    + postgres_function("funnel_stage_total_update", f"{ADDED} UNION ALL {REMOVED}")
    + postgres_function("funnel_stage_total_delete", REMOVED)
    + """
CREATE OR REPLACE FUNCTION funnel_stage_total_truncate() RETURNS trigger AS $$
BEGIN
    DELETE FROM funnel_stagetotal;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER funnel_stage_total_insert AFTER INSERT ON funnel_deal
    REFERENCING NEW TABLE AS new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_stage_total_insert();
CREATE TRIGGER funnel_stage_total_update AFTER UPDATE ON funnel_deal
    REFERENCING OLD TABLE AS old_deals NEW TABLE AS new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_stage_total_update();
CREATE TRIGGER funnel_stage_total_delete AFTER DELETE ON funnel_deal
    REFERENCING OLD TABLE AS old_deals
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_stage_total_delete();
CREATE TRIGGER funnel_stage_total_truncate AFTER TRUNCATE ON funnel_deal
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_stage_total_truncate();
"""
)
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS funnel_stage_total_insert ON funnel_deal;
DROP TRIGGER IF EXISTS funnel_stage_total_update ON funnel_deal;
DROP TRIGGER IF EXISTS funnel_stage_total_delete ON funnel_deal;
DROP TRIGGER IF EXISTS funnel_stage_total_truncate ON funnel_deal;
DROP FUNCTION IF EXISTS funnel_stage_total_insert();
DROP FUNCTION IF EXISTS funnel_stage_total_update();
DROP FUNCTION IF EXISTS funnel_stage_total_delete();
DROP FUNCTION IF EXISTS funnel_stage_total_truncate();
"""

SQLITE_ADD = """
    INSERT INTO funnel_stagetotal (owner_id, team_id, stage, "count", amount, weighted)
    VALUES (NEW.owner_id, NEW.team_id, NEW.stage, 1, NEW.amount, NEW.amount * NEW.probability)
    ON CONFLICT (owner_id, team_id, stage) DO UPDATE
        SET "count" = "count" + 1, amount = amount + excluded.amount, weighted = weighted + excluded.weighted;
"""
SQLITE_TAKE = """
    UPDATE funnel_stagetotal
        SET "count" = "count" - 1, amount = amount - OLD.amount, weighted = weighted - OLD.amount * OLD.probability
        WHERE owner_id = OLD.owner_id AND team_id = OLD.team_id AND stage = OLD.stage;
"""
SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER funnel_stage_total_insert AFTER INSERT ON funnel_deal FOR EACH ROW
BEGIN
{SQLITE_ADD}
END;
""",
    f"""
CREATE TRIGGER funnel_stage_total_update
    AFTER UPDATE OF owner_id, team_id, stage, amount, probability ON funnel_deal
    FOR EACH ROW
    WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id OR OLD.stage IS NOT NEW.stage
        OR OLD.amount IS NOT NEW.amount OR OLD.probability IS NOT NEW.probability
BEGIN
{SQLITE_TAKE}
{SQLITE_ADD}
END;
""",
    f"""
CREATE TRIGGER funnel_stage_total_delete AFTER DELETE ON funnel_deal FOR EACH ROW
BEGIN
{SQLITE_TAKE}
END;
""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS funnel_stage_total_insert;",
    "DROP TRIGGER IF EXISTS funnel_stage_total_update;",
    "DROP TRIGGER IF EXISTS funnel_stage_total_delete;",
]

BACKFILL = """
INSERT INTO funnel_stagetotal (owner_id, team_id, stage, count, amount, weighted)
SELECT owner_id, team_id, stage, count(*), sum(amount), sum(amount * probability)
FROM funnel_deal
GROUP BY owner_id, team_id, stage
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_TRIGGERS)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(schema_editor.connection.vendor)
    schema_editor.execute(BACKFILL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("funnel", "0007_stage_overdue_margin_help"),
    ]

    operations = [
        migrations.CreateModel(
            name="StageTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("owner_id", models.BigIntegerField()),
                ("team_id", models.BigIntegerField()),
                ("stage", models.CharField(max_length=20)),
                ("count", models.IntegerField(default=0)),
                ("amount", models.DecimalField(decimal_places=2, default=0, max_digits=22)),
                ("weighted", models.DecimalField(decimal_places=2, default=0, max_digits=24)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("owner_id", "team_id", "stage"), name="stage_total_key")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
