"""Facilities carry their customer's owner and team, as deals (funnel/0004) and alerts (0006) do,
so that the facilities a user may see are an index range in list order, newest first.

The list sorted every visible facility by start date, through a join to the customer: at 500,000
facilities a team manager's first page took 542 ms and a risk officer's 505. One index on the
start date alone served the firm-wide scopes but sent an RM's page to 295–363 ms (the planner
walked it and filtered by the customer's owner); the copy gives each scope its own range.

Triggers keep the copy: one fills it when a facility is inserted, or moved to another customer,
by any route; one follows the customer when its owner or team change. The second fires only
when they actually change, so re-grading the portfolio never touches facilities."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRES_TRIGGERS = """
CREATE OR REPLACE FUNCTION risk_facility_from_customer() RETURNS trigger AS $$
BEGIN
    SELECT owner_id, team_id INTO NEW.owner_id, NEW.team_id FROM customers_customer WHERE id = NEW.customer_id;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER risk_facility_from_customer
    BEFORE INSERT ON risk_facility
    FOR EACH ROW EXECUTE FUNCTION risk_facility_from_customer();
CREATE TRIGGER risk_facility_moves_customer
    BEFORE UPDATE OF customer_id ON risk_facility
    FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION risk_facility_from_customer();

CREATE OR REPLACE FUNCTION risk_facility_follow_customer() RETURNS trigger AS $$
BEGIN
    UPDATE risk_facility SET owner_id = NEW.owner_id, team_id = NEW.team_id WHERE customer_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER risk_facility_follow_customer
    AFTER UPDATE OF owner_id, team_id ON customers_customer
    FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION risk_facility_follow_customer();
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS risk_facility_from_customer ON risk_facility;
DROP TRIGGER IF EXISTS risk_facility_moves_customer ON risk_facility;
DROP FUNCTION IF EXISTS risk_facility_from_customer();
DROP TRIGGER IF EXISTS risk_facility_follow_customer ON customers_customer;
DROP FUNCTION IF EXISTS risk_facility_follow_customer();
"""

# SQLite triggers cannot assign to NEW: the copy is written right after the insert or the move.
SQLITE_COPY = """
BEGIN
    UPDATE risk_facility SET
        owner_id = (SELECT owner_id FROM customers_customer WHERE id = NEW.customer_id),
        team_id = (SELECT team_id FROM customers_customer WHERE id = NEW.customer_id)
    WHERE id = NEW.id;
END;
"""
SQLITE_TRIGGERS = [
    "CREATE TRIGGER risk_facility_from_customer AFTER INSERT ON risk_facility FOR EACH ROW" + SQLITE_COPY,
    """CREATE TRIGGER risk_facility_moves_customer AFTER UPDATE OF customer_id ON risk_facility FOR EACH ROW
    WHEN OLD.customer_id IS NOT NEW.customer_id"""
    + SQLITE_COPY,
    """
CREATE TRIGGER risk_facility_follow_customer
    AFTER UPDATE OF owner_id, team_id ON customers_customer
    FOR EACH ROW
    WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id
BEGIN
    UPDATE risk_facility SET owner_id = NEW.owner_id, team_id = NEW.team_id WHERE customer_id = NEW.id;
END;
""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS risk_facility_from_customer;",
    "DROP TRIGGER IF EXISTS risk_facility_moves_customer;",
    "DROP TRIGGER IF EXISTS risk_facility_follow_customer;",
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_TRIGGERS)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(schema_editor.connection.vendor)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


def legacy_rename(on: bool):
    """Taking the two columns off again makes SQLite rebuild the facility table and rename the
    copy, which checks every trigger that names the table (risk/0012's on the schedule) while
    the table is gone. SQLite's legacy rename leaves them alone; they name the table again once
    the copy has its name."""

    def toggle(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f"PRAGMA legacy_alter_table = {'ON' if on else 'OFF'}")

    return toggle


def copy_from_customers(apps, schema_editor):
    Facility = apps.get_model("risk", "Facility")
    Customer = apps.get_model("customers", "Customer")
    of_customer = Customer.objects.filter(pk=models.OuterRef("customer_id"))
    Facility.objects.update(
        owner_id=models.Subquery(of_customer.values("owner_id")[:1]),
        team_id=models.Subquery(of_customer.values("team_id")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_job_progress"),
        ("customers", "0020_customer_name_grams"),
        ("risk", "0016_alert_fillfactor"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, legacy_rename(on=False)),
        migrations.AddField(
            model_name="facility",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="relationship manager",
            ),
        ),
        migrations.AddField(
            model_name="facility",
            name="team",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="crm.team",
                verbose_name="team",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, legacy_rename(on=True)),
        migrations.RunPython(copy_from_customers, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.AddIndex(
            model_name="facility",
            index=models.Index(fields=["-start_date", "-id"], name="facility_list"),
        ),
        migrations.AddIndex(
            model_name="facility",
            index=models.Index(fields=["team", "-start_date", "-id"], name="facility_team_list"),
        ),
        migrations.AddIndex(
            model_name="facility",
            index=models.Index(fields=["owner", "-start_date", "-id"], name="facility_owner_list"),
        ),
    ]
