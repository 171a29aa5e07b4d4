"""Funnel analytics: the method's screening efficiency (客户筛选效率).

Two halves:

- ``rollup_rebuild()`` (the beat job, every 15 minutes) recomputes ``FunnelRollup`` in one
  transaction: delete every row, then one ``INSERT … SELECT … GROUP BY`` per metric at the
  owner level and two more that add the team and firm-wide totals. The SELECTs are ORM
  querysets compiled to SQL, so the vendor details (time zones, LEAST, string functions) are
  Django's and the same code runs on PostgreSQL and SQLite; no deal row travels to Python.
- ``funnel_report(user)`` (the page) sums the rollup rows of one level for the user's scope in
  a single query and derives every figure from those sums in Python.

Medians are exact at day granularity: days are whole days (floor, like ``timedelta.days``) and
kept as per-day histograms capped at ``CAP_DAYS``. With an even number of deals the median is
the mean of the two middle values (so it can end in .5).
"""

from funnel.analytics.report import FunnelReport, funnel_report, is_stale, mean, median, rollup_rows
from funnel.analytics.rollup import CAP_DAYS, CYCLE_MONTHS, KPI_CYCLE_MONTHS, WholeDays, rollup_rebuild

__all__ = [
    "CAP_DAYS",
    "CYCLE_MONTHS",
    "KPI_CYCLE_MONTHS",
    "FunnelReport",
    "WholeDays",
    "funnel_report",
    "is_stale",
    "mean",
    "median",
    "rollup_rebuild",
    "rollup_rows",
]
