from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def grant_admin_permissions(sender, **kwargs) -> None:
    """The Admin role may edit every model in Django admin (scorecards, policies, alert rules,
    schedules), including models that later migrations add."""
    from django.contrib.auth.models import Group, Permission

    from crm.roles import Role

    group = Group.objects.filter(name=Role.ADMIN.value).first()
    if group is not None:
        group.permissions.set(Permission.objects.all())


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from crm.middleware import stamp_session_start

        user_logged_in.connect(stamp_session_start, dispatch_uid="crm.stamp_session_start")
        post_migrate.connect(grant_admin_permissions, dispatch_uid="crm.grant_admin_permissions")
