"""Every write to customers, one module per subject; each action is a keyword-only function
``<entity>_<verb>()`` in one transaction, and the public ones are importable from here.

- ``customers``: create and update a customer (and make it active when a deal is funded),
  contacts, the activity log;
- ``intake``: credit reports, statements, funding needs and cooperation records, by hand or by
  import; each refreshes the customer's grading inputs and re-grades it in the same transaction;
- ``scoring``: publishing a scorecard (the portfolio re-grade runs in the background), its
  impact preview, tier overrides, a completed review.

How a grade is computed is ``customers.grading`` (pure) and ``customers.regrade`` (the same
rule as set-based SQL)."""

from customers.services.customers import (
    activity_log,
    contact_delete,
    contact_save,
    customer_create,
    customer_funded,
    customer_update,
)
from customers.services.intake import SOURCE_MODELS, inputs_changed, inputs_refresh, source_add, sources_import
from customers.services.scoring import (
    TIER_ORDER,
    Impact,
    customer_reviewed,
    override_create,
    scorecard_copy,
    scorecard_impact,
    scorecard_publish,
)

__all__ = [
    "SOURCE_MODELS",
    "TIER_ORDER",
    "Impact",
    "activity_log",
    "contact_delete",
    "contact_save",
    "customer_create",
    "customer_funded",
    "customer_reviewed",
    "customer_update",
    "inputs_changed",
    "inputs_refresh",
    "override_create",
    "scorecard_copy",
    "scorecard_impact",
    "scorecard_publish",
    "source_add",
    "sources_import",
]
