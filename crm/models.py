import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    """A desk of relationship managers under one team manager."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in. The role is the user's group (see crm.roles)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Leave empty to follow the browser."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class JobLock(models.Model):
    """One row per periodic job: a lease. Taking it is a compare-and-set UPDATE whose row count
    decides the winner, so a second beat or an overlapping run skips instead of doubling up.
    ``holder`` is the Celery task id of the run that holds it and ``locked_until`` the end of a
    short lease the run renews while it works (crm.jobs.leases): a crashed holder frees the
    lock within a minute, and a redelivered message of the same task takes it over at once."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=100, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("job lock")
        verbose_name_plural = _("job locks")

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting for its batches")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


UNFINISHED = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)


class JobQuerySet(models.QuerySet):
    def unfinished(self) -> "JobQuerySet":
        return self.filter(status__in=UNFINISHED)


class Job(models.Model):
    """A piece of background work, from the moment it is asked for until it is done.

    The row is written in the same transaction as the change that needs the work (an outbox),
    so work is never asked for and then lost: if the broker is down the row waits as *pending*
    and the dispatcher sends it when the broker is back. ``code`` is also the Celery task id,
    which is how the worker finds its row. A fanned-out job (the portfolio re-grade) is a
    parent whose ``batches`` are jobs of their own: once its own body has run it is *waiting*,
    and it is done when the last batch is."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    task = models.CharField(_("task"), max_length=200)
    kwargs = models.JSONField(_("arguments"), default=dict, blank=True)
    # Requests with the same key coalesce while one is still waiting to be sent (e.g. five
    # tier-policy edits in a minute ask for one re-grade, not five).
    key = models.CharField(max_length=200, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("part of"), on_delete=models.CASCADE, null=True, blank=True, related_name="batches"
    )
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    sends = models.PositiveIntegerField(_("send attempts"), default=0)
    sent_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    runs = models.PositiveIntegerField(_("runs"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # While running, the worker renews this every few seconds: a job whose lease ran out was
    # lost with its worker and is sent again by the sweep.
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    batches_total = models.PositiveIntegerField(_("batches"), default=0)
    batches_done = models.PositiveIntegerField(_("batches done"), default=0)
    # Units of work (an import's rows) done of the total, for a job that reports them. A job
    # that writes in chunks advances ``progress_done`` in each chunk's own transaction, so it
    # is also the checkpoint a re-run resumes from (customers.exchange.background).
    progress_total = models.PositiveIntegerField(_("to do"), default=0)
    progress_done = models.PositiveIntegerField(_("done"), default=0)
    # What to request once the last batch is done: {"task": name, "kwargs": {...}}.
    then = models.JSONField(null=True, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(status="pending") & ~models.Q(key=""),
                name="job_one_pending_per_key",
            ),
            models.CheckConstraint(
                condition=models.Q(batches_done__lte=models.F("batches_total")), name="job_batches_done_le_total"
            ),
            models.CheckConstraint(
                condition=models.Q(progress_done__lte=models.F("progress_total")), name="job_progress_done_le_total"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in JobStatus]), name="job_status_valid"
            ),
        ]
        indexes = [
            # The sweep and the "delayed" notice read only unfinished jobs: a small index however
            # long the history grows.
            models.Index(
                fields=["status", "created_at"],
                condition=models.Q(status__in=["pending", "queued", "running", "waiting"]),
                name="job_unfinished",
            ),
            models.Index(fields=["finished_at"], name="job_finished_at"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.code}"

    @property
    def progress(self) -> int | None:
        """Percent of batches done, for a fanned-out job."""
        if not self.batches_total:
            return None
        return self.batches_done * 100 // self.batches_total


class LocalizedName(models.Model):
    """Admin-edited text shown to users: an English name and an optional Chinese one. Abstract;
    used by funnel (checklist items) and risk (alert rules), hence here on the ground floor."""

    name = models.CharField(_("name (English)"), max_length=200)
    name_zh_hans = models.CharField(
        _("name (Simplified Chinese)"), max_length=200, blank=True, help_text=_("Leave empty to show the English name.")
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.localized_name

    @property
    def localized_name(self) -> str:
        if (get_language() or "").lower().startswith("zh") and self.name_zh_hans:
            return self.name_zh_hans
        return self.name
