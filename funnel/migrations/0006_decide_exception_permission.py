"""Who may decide a terms exception becomes a permission, ``funnel.decide_exception``, granted
here to the Team manager and Risk officer groups (admins change the grants in Django admin). It
is checked together with the four-eyes rule in funnel.deciders.

Django creates a model's permissions after the whole migrate run (post_migrate), too late for
the grant below, so the permission row is made here; post_migrate then finds it in place."""

from django.db import migrations

DECIDERS = ["Team manager", "Risk officer"]


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="funnel", model="termsexception")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="decide_exception", defaults={"name": "Can decide terms exceptions"}
    )
    for name in DECIDERS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="funnel", codename="decide_exception").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("funnel", "0005_labels"),
        ("crm", "0002_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="termsexception",
            options={
                "ordering": ["-requested_at", "-id"],
                "permissions": [("decide_exception", "Can decide terms exceptions")],
                "verbose_name": "terms exception",
                "verbose_name_plural": "terms exceptions",
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
