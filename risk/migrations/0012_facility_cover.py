"""Each facility keeps how far its repayments reach (risk.models.Facility.first_unpaid_due and
last_repaid_on), kept by triggers on the schedule and the repayments.

The hourly payment-overdue rule asked, for every batch of customers, which facilities' schedule
due before a cut-off adds up to more than they repaid: it summed their installments and
repayments anew each time, reading them one by one out of two tables of millions of rows (2.6 s
per batch of 50,000 customers at 500,000 facilities, 50 s an hour). What it needs changes only
when an installment or a repayment is written, so the database keeps it then: the due date of
the first installment the repayments received so far do not cover (NULL when they cover the
whole schedule) and the date of the latest repayment. A facility is more than N days overdue on
a day exactly when that due date is before the day minus N — provided no repayment is dated after
the day, which every form and import refuses; a facility with one is computed the long way
(risk.alerts.portfolio_kinds).

Triggers, not Python, because every route that writes installments or repayments must move it:
the services, Django admin, imports, a schedule replaced, a facility deleted with its schedule,
bulk INSERTs. PostgreSQL: statement-level triggers with transition tables, so a bulk insert
refreshes each facility it touched once; the facilities are locked in id order first, so two
statements touching the same facilities queue instead of deadlocking. SQLite: row-level triggers.
The rule is the waterfall's (risk.selectors.facilities._oldest_unpaid_due): installments in due
date order (one per facility and date), the first whose cumulative amount is more than the
repaid total plus half a fen (SQLite sums decimals as binary floats)."""

from django.db import migrations, models

# The first installment the repayments do not cover, and the latest repayment, of facility {id}.
FIRST_UNPAID = """(
    SELECT cumulative.due_date FROM (
        SELECT due_date, SUM(principal + interest) OVER (ORDER BY due_date) AS total
        FROM risk_repaymentinstallment WHERE facility_id = {id}
    ) AS cumulative
    WHERE cumulative.total > (SELECT COALESCE(SUM(amount), 0) FROM risk_repayment WHERE facility_id = {id}) + 0.005
    ORDER BY cumulative.due_date LIMIT 1
)"""
LAST_REPAID = "(SELECT MAX(received_on) FROM risk_repayment WHERE facility_id = {id})"

POSTGRES_REFRESH = f"""
CREATE OR REPLACE FUNCTION risk_facility_cover_refresh(ids bigint[]) RETURNS void AS $$
BEGIN
    PERFORM 1 FROM risk_facility WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    UPDATE risk_facility f
        SET first_unpaid_due = kept.first_unpaid_due, last_repaid_on = kept.last_repaid_on
        FROM (
            SELECT f2.id, {FIRST_UNPAID.format(id="f2.id")} AS first_unpaid_due,
                   {LAST_REPAID.format(id="f2.id")} AS last_repaid_on
            FROM risk_facility f2 WHERE f2.id = ANY(ids)
        ) AS kept
        WHERE f.id = kept.id
          AND (f.first_unpaid_due IS DISTINCT FROM kept.first_unpaid_due
               OR f.last_repaid_on IS DISTINCT FROM kept.last_repaid_on);
END
$$ LANGUAGE plpgsql;
"""


def postgres_trigger(table: str, event: str, rows: str, ids: str) -> str:
    name = f"{table}_cover_{event.lower()}"
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    PERFORM risk_facility_cover_refresh(ARRAY(SELECT DISTINCT facility_id FROM ({ids}) AS touched));
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER {name} AFTER {event} ON {table}
    REFERENCING {rows}
    FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


TABLES = ("risk_repaymentinstallment", "risk_repayment")
POSTGRES_TRIGGERS = POSTGRES_REFRESH + "".join(
    postgres_trigger(table, event, rows, ids)
    for table in TABLES
    for event, rows, ids in (
        ("INSERT", "NEW TABLE AS new_rows", "SELECT facility_id FROM new_rows"),
        (
            "UPDATE",
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "SELECT facility_id FROM new_rows UNION SELECT facility_id FROM old_rows",
        ),
        ("DELETE", "OLD TABLE AS old_rows", "SELECT facility_id FROM old_rows"),
    )
)
POSTGRES_DROP = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_cover_{event} ON {table};DROP FUNCTION IF EXISTS {table}_cover_{event}();"
        for table in TABLES
        for event in ("insert", "update", "delete")
    )
    + "DROP FUNCTION IF EXISTS risk_facility_cover_refresh(bigint[]);"
)


def sqlite_refresh(row: str) -> str:
    facility = f"{row}.facility_id"
    return f"""
    UPDATE risk_facility SET first_unpaid_due = {FIRST_UNPAID.format(id=facility)},
                             last_repaid_on = {LAST_REPAID.format(id=facility)}
    WHERE id = {facility};"""


SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER {table}_cover_{event.lower()} AFTER {event} ON {table} FOR EACH ROW
BEGIN{"".join(sqlite_refresh(row) for row in rows)}
END;"""
    for table in TABLES
    for event, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"]))
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_cover_{event};" for table in TABLES for event in ("insert", "update", "delete")
]

BACKFILL = f"""
UPDATE risk_facility SET first_unpaid_due = {FIRST_UNPAID.format(id="risk_facility.id")},
                         last_repaid_on = {LAST_REPAID.format(id="risk_facility.id")}
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_TRIGGERS)
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(vendor)
    schema_editor.execute(BACKFILL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0011_alert_list_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="facility",
            name="first_unpaid_due",
            field=models.DateField(editable=False, null=True, verbose_name="first installment not covered"),
        ),
        migrations.AddField(
            model_name="facility",
            name="last_repaid_on",
            field=models.DateField(editable=False, null=True, verbose_name="latest repayment"),
        ),
        migrations.AddIndex(
            model_name="facility",
            index=models.Index(fields=["first_unpaid_due"], name="facility_first_unpaid"),
        ),
        migrations.AddIndex(
            model_name="facility",
            index=models.Index(fields=["last_repaid_on"], name="facility_last_repaid"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
