"""Risk's data:

- ``facilities``: facilities, their schedules and repayments;
- ``alerts``: alert rules, alerts, their events and the managers' digests;
- ``rollup``: the dashboard's monthly figures;
- ``totals``: the alerts counted per RM, team, severity and status;
- ``scope_copy``: the customer's owner and team that alerts and facilities keep."""

from risk.models.alerts import (
    ACT_ON,
    ACT_ON_CONDITION,
    ACT_ON_ORDER,
    SEVERITY_RANK,
    UNRESOLVED,
    Alert,
    AlertCondition,
    AlertDigest,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertRule,
    AlertSeverity,
    AlertStatus,
)
from risk.models.facilities import (
    Facility,
    Repayment,
    RepaymentInstallment,
)
from risk.models.rollup import (
    RiskMonth,
)
from risk.models.totals import AlertDayTotal, AlertDayZone, AlertTotal

__all__ = [
    "ACT_ON",
    "ACT_ON_CONDITION",
    "ACT_ON_ORDER",
    "SEVERITY_RANK",
    "UNRESOLVED",
    "Alert",
    "AlertCondition",
    "AlertDayTotal",
    "AlertDayZone",
    "AlertDigest",
    "AlertEvent",
    "AlertEventKind",
    "AlertKind",
    "AlertRule",
    "AlertSeverity",
    "AlertStatus",
    "AlertTotal",
    "Facility",
    "Repayment",
    "RepaymentInstallment",
    "RiskMonth",
]
