"""Deals carry their customer's owner and team, so that "whose deals may I see" is an index range.

A trigger on the customer table keeps the copy equal to the customer whatever changes the
customer: the service, Django admin, a file import or a bulk UPDATE. It fires only when owner
or team actually change (``UPDATE OF`` plus ``WHEN``), so re-grading the portfolio, which writes
other columns, never touches deals."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRES_TRIGGER = """
CREATE OR REPLACE FUNCTION funnel_deal_follow_customer() RETURNS trigger AS $$
BEGIN
    UPDATE funnel_deal SET owner_id = NEW.owner_id, team_id = NEW.team_id WHERE customer_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER funnel_deal_follow_customer
    AFTER UPDATE OF owner_id, team_id ON customers_customer
    FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION funnel_deal_follow_customer();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS funnel_deal_follow_customer ON customers_customer;
DROP FUNCTION IF EXISTS funnel_deal_follow_customer();
"""
SQLITE_TRIGGER = """
CREATE TRIGGER funnel_deal_follow_customer
    AFTER UPDATE OF owner_id, team_id ON customers_customer
    FOR EACH ROW
    WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id
BEGIN
    UPDATE funnel_deal SET owner_id = NEW.owner_id, team_id = NEW.team_id WHERE customer_id = NEW.id;
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS funnel_deal_follow_customer;"


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_TRIGGER)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(schema_editor.connection.vendor)


def drop_trigger(apps, schema_editor):
    schema_editor.execute(POSTGRES_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP)


def copy_from_customers(apps, schema_editor):
    Deal = apps.get_model("funnel", "Deal")
    Customer = apps.get_model("customers", "Customer")
    Deal.objects.update(
        owner_id=models.Subquery(Customer.objects.filter(pk=models.OuterRef("customer_id")).values("owner_id")[:1]),
        team_id=models.Subquery(Customer.objects.filter(pk=models.OuterRef("customer_id")).values("team_id")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("funnel", "0003_rollup_levels"),
        ("customers", "0003_default_scorecard"),
        ("crm", "0003_job_lock"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="deal",
            name="team",
            field=models.ForeignKey(
                null=True,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deals",
                to="crm.team",
                verbose_name="team",
            ),
        ),
        migrations.RunPython(copy_from_customers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="deal",
            name="team",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deals",
                to="crm.team",
                verbose_name="team",
            ),
        ),
        migrations.AlterField(
            model_name="deal",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deals",
                to=settings.AUTH_USER_MODEL,
                verbose_name="relationship manager",
            ),
        ),
        migrations.RemoveIndex(model_name="deal", name="deal_board"),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=["stage", "-stage_entered_at", "-id"], include=["amount", "probability"], name="deal_board"
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=["team", "stage", "-stage_entered_at", "-id"],
                include=["amount", "probability"],
                name="deal_board_team",
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=["owner", "stage", "-stage_entered_at", "-id"],
                include=["amount", "probability"],
                name="deal_board_owner",
            ),
        ),
        migrations.AddIndex(
            model_name="deal", index=models.Index(fields=["team", "-created_at", "-id"], name="deal_newest_team")
        ),
        migrations.AddIndex(
            model_name="deal", index=models.Index(fields=["owner", "-created_at", "-id"], name="deal_newest_owner")
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
