"""A job's progress as admin shows it: status, a progress bar of batches, when it finished."""

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from crm.models import Job, JobStatus


def job_progress(job: Job, *, status: bool = True) -> SafeString:
    """``status=False`` where the status has a column of its own (the jobs list)."""
    parts = [format_html("<strong>{}</strong>", job.get_status_display())] if status else []
    if job.batches_total:
        batches = reverse("admin:crm_job_changelist") + f"?parent__id__exact={job.pk}"
        parts.append(
            format_html(
                '<progress max="{}" value="{}"></progress> <a href="{}">{}</a>',
                job.batches_total,
                job.batches_done,
                batches,
                _("%(done)s of %(total)s batches") % {"done": job.batches_done, "total": job.batches_total},
            )
        )
    if status and job.status == JobStatus.DONE and job.finished_at:
        when = formats.date_format(timezone.localtime(job.finished_at), "Y-m-d H:i:s")
        parts.append(format_html("{}", _("finished %(when)s") % {"when": when}))
    elif status and job.last_error:
        parts.append(format_html('<span class="errornote">{}</span>', job.last_error[:200]))
    return format_html("{} " * len(parts), *parts)
