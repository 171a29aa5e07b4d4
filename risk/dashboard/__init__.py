"""The risk dashboard's figures: the method's KPIs (资金回收率 fund recovery rate, 投资组合风险
portfolio risk, 客户筛选效率 screening efficiency) month by month, and the live panels.

Three halves, as funnel.analytics:

- ``rollup_rebuild()`` (the beat job, every 30 minutes) rewrites ``RiskMonth`` in one
  transaction. Flows are recomputed for the last ``MONTHS_KEPT`` months by one
  ``INSERT … SELECT`` over a UNION ALL of grouped ORM querysets (installments due, repayments
  received, alerts opened, deals screened) at the owner level, then two more that add the team
  and firm-wide totals. Stocks (exposure, also by the customer's tier) can only be observed
  now: this month's snapshot is taken by every run, and a past month keeps the last snapshot
  taken in it.
- ``risk_report(user)`` (the page) sums the rollup rows of the user's level per month in a
  single query and derives the KPIs, the trend and the baseline from those sums in Python.
- ``risk.dashboard.live``: the panels about now (alerts, watch list, reviews overdue), bounded
  live queries over querysets the caller scoped with the access helpers; and exposure by tier,
  read from the latest snapshot of the user's rollup level (a tier change or a new facility
  shows at the next rebuild).

Definitions (also stated on the page):

- fund recovery rate = repaid ÷ due: repayments received in the period ÷ principal + interest
  of the installments falling due in it (this month: up to today). A cash measure, as the
  method defines it: it passes 100 % when late payments of earlier months come in (June's
  installment paid on 1 July: June 0 %, July 200 %, the two months together 100 %), which is
  real money recovered, so it is not clamped; the cards compare three-month periods, and the
  chart leaves out the months whose rate rests on too little (``report.THIN_SHARE``).
  ``rollup_repayment_add`` counts a repayment in its month as soon as it is booked.
- portfolio risk = at risk ÷ outstanding, where at risk = outstanding of the facilities whose
  customer is tier B or that have anything overdue, each facility counted once
  (``exposure_b`` + ``exposure_overdue``; the latter holds overdue facilities outside tier B).
  Over several months: the sum of the monthly snapshots, i.e. an exposure-weighted average.
- screening efficiency = screened deals that reached Approved or beyond ÷ deals screened
  (whose screening ended — first Approved or Lost — in the period).

Each is a ratio of sums over the period, never an average of monthly ratios.
"""

# The KPIs' percentages are crm.numbers.percent; offered here beside the figures they format.
from crm.numbers import percent
from risk.dashboard.live import (
    ACT_SIZE,
    SEVERITIES,
    TIERS,
    WEEKS,
    AlertCounts,
    CustomerList,
    TierExposure,
    WeekRow,
    alert_summary,
    alerts_to_act_on,
    exposure_by_tier,
    reviews_overdue,
    watch_list,
)
from risk.dashboard.report import (
    BASELINE_MONTHS,
    CURRENT_MONTHS,
    KPIS,
    TREND_MONTHS,
    Figures,
    Kpi,
    Period,
    RiskReport,
    default_periods,
    kept_months,
    monthly_figures,
    risk_report,
    rollup_rows,
)
from risk.dashboard.rollup import MONTHS_KEPT, rollup_rebuild, rollup_repayment_add
from risk.models import ACT_ON

__all__ = [
    "ACT_ON",
    "ACT_SIZE",
    "BASELINE_MONTHS",
    "CURRENT_MONTHS",
    "KPIS",
    "MONTHS_KEPT",
    "SEVERITIES",
    "TIERS",
    "TREND_MONTHS",
    "WEEKS",
    "AlertCounts",
    "CustomerList",
    "Figures",
    "Kpi",
    "Period",
    "RiskReport",
    "TierExposure",
    "WeekRow",
    "alert_summary",
    "alerts_to_act_on",
    "default_periods",
    "exposure_by_tier",
    "kept_months",
    "monthly_figures",
    "percent",
    "reviews_overdue",
    "risk_report",
    "rollup_rebuild",
    "rollup_repayment_add",
    "rollup_rows",
    "watch_list",
]
