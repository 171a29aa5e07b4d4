from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from crm.jobs import jobs_retry
from crm.jobs.display import job_progress
from crm.models import Job, Team, User


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "team", "is_active"]
    list_filter = ["groups", "team", "is_active", "is_staff"]
    list_select_related = ["team"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("CRM"), {"fields": ("team", "language")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("CRM"), {"fields": ("email", "team", "groups")}),
    )


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """The jobs page: what background work is waiting, running, done or failed, with the
    progress of fanned-out jobs and a retry for what failed."""

    list_display = ["task_name", "status", "progress_bar", "created_at", "started_at", "finished_at", "runs", "error"]
    list_filter = ["status", "task"]
    list_select_related = ["requested_by"]
    search_fields = ["task", "=code"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["retry"]
    readonly_fields = [f.name for f in Job._meta.fields] + ["progress_bar"]

    def get_queryset(self, request):
        # The jobs page lists runs; their batches are on each run's own page (parent filter).
        qs = super().get_queryset(request)
        return qs if "parent__id__exact" in request.GET else qs.filter(parent__isnull=True)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("task"), ordering="task")
    def task_name(self, obj: Job) -> str:
        return obj.task.rsplit(".", 1)[-1]

    @admin.display(description=_("last error"))
    def error(self, obj: Job) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.display(description=_("progress"))
    def progress_bar(self, obj: Job):
        return job_progress(obj, status=False) if obj.batches_total else "—"

    @admin.action(description=_("Send again"), permissions=["view"])
    def retry(self, request, queryset):
        count = jobs_retry(list(queryset))
        self.message_user(request, _("%(n)d job(s) will be sent again.") % {"n": count}, messages.SUCCESS)
