"""Every write risk makes, one module per subject; each action is a keyword-only function
``<entity>_<verb>()`` in one transaction, and the public ones are importable from here.

- ``facilities``: a funded deal's facility (``facility_open``), its schedule and repayments;
- ``alerts``: what people do with an alert — acknowledge, resolve, assign;
- ``escalation``: critical alerts left open too long go to the team manager;
- ``digest``: the managers' daily alert digest;
- ``reminders``: review reminders to relationship managers;
- ``watch``: facility limits that follow the credit limit, and the watch list.

Raising alerts is the evaluation's (``risk.alerts``); importing repayments from a file is
``risk.imports``, which books each row through ``repayment_record``; one repayment entered by
hand on the facility page goes through ``repayment_enter``, held to the import's checks."""

from risk.services.alerts import (
    AlertTransitionRefused,
    AssignmentRefused,
    alert_acknowledge,
    alert_assign,
    alert_resolve,
)
from risk.services.digest import digest_send
from risk.services.escalation import alerts_escalate
from risk.services.facilities import (
    facility_open,
    repayment_enter,
    repayment_problems,
    repayment_record,
    schedule_problems,
    schedule_set,
)
from risk.services.reminders import reviews_flag_due
from risk.services.watch import facility_limits_follow, watch_refresh

__all__ = [
    "AlertTransitionRefused",
    "AssignmentRefused",
    "alert_acknowledge",
    "alert_assign",
    "alert_resolve",
    "alerts_escalate",
    "digest_send",
    "facility_limits_follow",
    "facility_open",
    "repayment_enter",
    "repayment_problems",
    "repayment_record",
    "reviews_flag_due",
    "schedule_problems",
    "schedule_set",
    "watch_refresh",
]
