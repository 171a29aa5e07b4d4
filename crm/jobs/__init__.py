"""Background work that nothing loses: the outbox (``job_request``), the sweep that sends what
waits, and the decorator every job runs under (leases, heartbeat, retries, batches).

Apps import from here, never from the modules below."""

from crm.jobs.outbox import job_request, jobs_delayed, jobs_retry, jobs_sweep
from crm.jobs.runner import MINUTE, background_job, fan_out, periodic_job

__all__ = [
    "MINUTE",
    "background_job",
    "fan_out",
    "job_request",
    "jobs_delayed",
    "jobs_retry",
    "jobs_sweep",
    "periodic_job",
]
