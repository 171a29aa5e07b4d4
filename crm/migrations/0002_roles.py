"""The four roles as groups. The Admin group's permissions are kept complete by
crm.apps.grant_admin_permissions after every migrate, so models added later are included."""

from django.db import migrations

ROLES = ["Relationship manager", "Team manager", "Risk officer", "Admin"]


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
