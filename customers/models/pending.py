import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PendingUploadQuerySet(models.QuerySet):
    def waiting(self) -> "PendingUploadQuerySet":
        """Not confirmed yet: what a token can claim and what the quota counts."""
        return self.filter(job__isnull=True)

    def expired(self, *, now: datetime | None = None) -> "PendingUploadQuerySet":
        return self.filter(created_at__lte=(now or timezone.now()) - PendingUpload.KEEP_FOR)

    def unexpired(self, *, now: datetime | None = None) -> "PendingUploadQuerySet":
        return self.filter(created_at__gt=(now or timezone.now()) - PendingUpload.KEEP_FOR)


class PendingUpload(models.Model):
    """A checked upload waiting for its import to be confirmed (``customers.exchange.pending``).

    In the database, not on a web host's disk, so a confirm served by any host finds it; owned
    by the user who uploaded it, who alone can claim it, and whose quota it counts against."""

    KEEP_FOR = timedelta(hours=6)  # not confirmed within this time: expired, never claimable

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the token
    # Indexed together with created_at below: the quota reads a user's uploads oldest first.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=40)  # which import kept it; only that import claims it
    data = models.BinaryField()
    size = models.PositiveIntegerField()  # len(data), so the quota never reads the data
    meta = models.JSONField(default=dict)  # what the import needs back, e.g. the file's name
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set when the import is confirmed, in the transaction that asks for the job: from then on
    # the upload belongs to that job (which deletes it when it is done), no longer claimable.
    job = models.OneToOneField(
        "crm.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="upload", editable=False
    )

    objects = PendingUploadQuerySet.as_manager()

    class Meta:
        verbose_name = _("pending upload")
        verbose_name_plural = _("pending uploads")
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"
