from django.db import migrations, models

# The grade history is append-only, so its rows lie in the order they were written: by date, and
# by scorecard (a card grades only while it is the active one). Two of its btree indexes followed
# that order and cost a full re-grade, which appends a grade for every customer whose tier or
# score moved, an entry each in random places: (created_at), read by the admin's grade list in
# date order, and (scorecard), read by the publication's "customers that changed tier" and by the
# checks before a scorecard is deleted (Django's PROTECT and the foreign key's own). Block range
# (BRIN) indexes serve those readers from a few summaries per 128 pages and cost a re-grade next
# to nothing; the admin's list is now read by id, the same order. PostgreSQL only: SQLite has no
# BRIN, and its small databases read the history whole.
INDEXES = {
    "customers_grade_created_brin": "created_at",
    "customers_grade_scorecard_brin": "scorecard_id",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, column in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX {name} ON customers_grade USING brin ({column})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0018_customer_name_search")]

    operations = [
        migrations.RemoveIndex(model_name="grade", name="customers_g_created_dd0174_idx"),
        migrations.AlterField(
            model_name="grade",
            name="scorecard",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="grades",
                to="customers.scorecard",
            ),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
