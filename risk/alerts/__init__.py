"""Alert rules: what each kind watches, the evaluation that raises alerts, and what people do
with an alert.

- ``base``: what a kind is made of (``Kind``) and the tier ranks.
- ``kinds``: the registry ``KINDS`` and ``rule_problems`` (``AlertRule.clean``); the kinds
  themselves in ``grade_kinds`` (the grade and its inputs) and ``portfolio_kinds`` (exposure,
  reviews, deals), their parameter checks in ``params``.
- ``evaluation``: ``evaluate()``, set-based per rule, idempotent and safe with several workers.
- ``transitions``: ``alert_acknowledge`` and ``alert_resolve``."""

from risk.alerts.base import TIER_RANK, Kind
from risk.alerts.evaluation import evaluate
from risk.alerts.kinds import KINDS, rule_problems
from risk.alerts.transitions import AlertTransitionRefused, alert_acknowledge, alert_resolve

__all__ = [
    "KINDS",
    "TIER_RANK",
    "AlertTransitionRefused",
    "Kind",
    "alert_acknowledge",
    "alert_resolve",
    "evaluate",
    "rule_problems",
]
