"""Room on every page of the alert table for a new version of each of its rows.

The hourly evaluation stamps "last seen" on every alert still in its bad state (362,881 after
a first evaluation at 1M customers). last_seen_at is in no index, so with room on the page the
stamp is a HOT update, in place; without it each stamped row wrote an entry in each of the
table's 18 indexes. Measured at 1M customers, the hourly evaluation in the job's batches on two
connections, every alert stamped: 26.2 s at fillfactor 100, 6.5 s at 50 (both with the kept
counts' triggers of 0014 and 0015). Pages written from now on keep the room; existing ones get
it when the table is rewritten (VACUUM FULL risk_alert, or pg_repack), as for the customers
(customers/0013, README)."""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor, value=FILLFACTOR):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("risk", "Alert")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, value=100)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0015_alert_day_totals"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False),
    ]
