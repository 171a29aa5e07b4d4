from django.db import migrations

# The dashboard counts the watch list and the overdue reviews with index-only scans, which stay
# index-only only on pages the visibility map marks all-visible; any write to a page (a
# re-grade's in-place update included) clears the mark until VACUUM sets it again. Autovacuum's
# default waits for a fifth of the table to be dead rows: 200,000 at a million customers, so a
# re-grade or watch-list refresh that changes a few percent of them leaves the counts fetching
# from the table for days (measured at 1M: the watch-list count 104 ms with 39,514 heap
# fetches against 16-33 ms after VACUUM). One percent, as DBAs set for large busy tables.
SCALE_FACTOR = 0.01


def set_scale_factor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("customers", "Customer")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = {SCALE_FACTOR})")


def reset_scale_factor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("customers", "Customer")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0016_quality_indexes")]

    operations = [migrations.RunPython(set_scale_factor, reset_scale_factor, elidable=False)]
