"""Alert rules: what each kind watches and the evaluation that raises alerts. What people do
with an alert afterwards (acknowledge, resolve, assign) is ``risk.services.alerts``.

- ``base``: what a kind is made of (``Kind``) and the tier ranks.
- ``kinds``: the registry ``KINDS`` and ``rule_problems`` (``AlertRule.clean``); the kinds
  themselves in ``grade_kinds`` (the grade and its inputs) and ``portfolio_kinds`` (exposure,
  reviews, deals), their parameter checks in ``params``.
- ``evaluation``: ``evaluate()``, set-based per rule, idempotent and safe with several workers;
  its bulk inserts in ``inserts``."""

from risk.alerts.base import TIER_RANK, Kind
from risk.alerts.evaluation import evaluate
from risk.alerts.kinds import KINDS, rule_problems

__all__ = [
    "KINDS",
    "TIER_RANK",
    "Kind",
    "evaluate",
    "rule_problems",
]
