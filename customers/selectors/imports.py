"""The imports a user confirmed, as their result pages show them: one background job each
(customers.exchange.background), found by its code and readable by its requester (and admins)."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import Http404
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.models import Job, JobStatus
from crm.roles import Role, role_of
from customers.exchange.background import Outcome
from customers.exchange.kinds import KINDS

RECENT = 30  # imports on "Your imports"
REPAYMENTS = "repayments"


class State:
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


_STATE = {
    JobStatus.PENDING: State.WAITING,
    JobStatus.QUEUED: State.WAITING,
    JobStatus.RUNNING: State.RUNNING,
    JobStatus.WAITING: State.RUNNING,
    JobStatus.DONE: State.DONE,
    JobStatus.FAILED: State.FAILED,
}
STATE_LABELS = {
    State.WAITING: _("Waiting"),
    State.RUNNING: _("Running"),
    State.DONE: _("Done"),
    State.FAILED: _("Failed"),
}


@dataclass(frozen=True)
class ImportRun:
    job: Job

    @property
    def name(self) -> str:
        return self.job.kwargs.get("name", "")

    @property
    def kind(self) -> str:
        return self.job.kwargs.get("kind", REPAYMENTS)

    @property
    def kind_label(self) -> Promise:
        return KINDS[self.kind].label if self.kind in KINDS else _("Repayments")

    @property
    def state(self) -> str:
        return _STATE[JobStatus(self.job.status)]

    @property
    def state_label(self) -> Promise:
        return STATE_LABELS[self.state]

    @property
    def finished(self) -> bool:
        return self.state in (State.DONE, State.FAILED)

    @property
    def result(self) -> dict[str, Any]:
        return self.job.result if isinstance(self.job.result, dict) else {}

    @property
    def outcome(self) -> str:
        """imported / partial / refused once done; "" before, and for a job that failed."""
        return self.result.get("outcome", "") if self.state == State.DONE else ""

    @property
    def imported(self) -> bool:
        return self.outcome == Outcome.IMPORTED

    @property
    def not_imported(self) -> int:
        return max(self.result.get("rows", 0) - self.result.get("created", 0), 0)

    @property
    def last_imported_row(self) -> int:
        return self.result.get("created", 0) + 1  # the header is row 1

    @property
    def amount(self) -> str:
        return f"{Decimal(self.result.get('amount') or 0):,.2f}"

    @property
    def errors(self) -> list[dict[str, Any]]:
        # Row 0: a problem of the file as a whole, or of the data it met, not of one row.
        return [{**e, "row": e["row"] or "—"} for e in self.result.get("errors", [])]

    @property
    def errors_hidden(self) -> int:
        return max(self.result.get("error_count", 0) - len(self.result.get("errors", [])), 0)

    @property
    def percent(self) -> int:
        if self.imported:
            return 100
        total = self.job.progress_total
        return self.job.progress_done * 100 // total if total else 0

    @property
    def upload_url(self) -> str:
        return reverse("risk:repayment_import") if self.kind == REPAYMENTS else reverse("customers:import")

    @property
    def list_url(self) -> str:
        """Where what was imported shows: the customer list (repayments show on each facility)."""
        return "" if self.kind == REPAYMENTS else reverse("customers:list")


def _imports():
    # Import jobs are the ones asked for with an upload (customers.exchange.pending.confirm_upload).
    return Job.objects.filter(parent__isnull=True, kwargs__has_key="upload")


def import_for(user, code) -> ImportRun:
    """The import ``code`` if ``user`` asked for it or is an admin; 404 otherwise — the same
    answer for "no such import" and "not yours"."""
    job = _imports().filter(code=code).first()
    if job is None or (job.requested_by_id != user.pk and role_of(user) != Role.ADMIN):
        raise Http404
    return ImportRun(job)


def imports_of(user) -> list[ImportRun]:
    return [ImportRun(job) for job in _imports().filter(requested_by=user)[:RECENT]]
