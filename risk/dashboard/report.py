"""Reading ``RiskMonth`` for one user: the method's three KPIs per month and over two periods
(the recent one and the baseline the manager picks). See the package docstring."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from crm.dates import month_start
from crm.numbers import percent
from crm.scope import Scope
from risk.dashboard.rollup import MONTHS_KEPT
from risk.models import RiskMonth

TREND_MONTHS = 12  # months on the trend chart and table
CURRENT_MONTHS = 3  # the "current" value of a KPI: the latest month with figures and the two before
BASELINE_MONTHS = 3  # the default baseline: the last three months with figures before those
# A month's rate is left off the chart (a gap) when what it divides by is under this share of the
# median month's: a quarter's first installment or two deals screened make swings (0 %, 199 %)
# that say nothing about the portfolio. The table still shows it, greyed.
THIN_SHARE = Decimal("0.25")
# What each KPI divides by.
DENOMINATORS = {"recovery_rate": "due", "portfolio_risk": "exposure", "screening_efficiency": "screened"}
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


def rollup_rows(scope: Scope) -> QuerySet | None:
    """The ``RiskMonth`` rows of the one level that covers exactly the scope; None when it
    covers no customer. An RM's customers may sit in more than one team: their rows are summed
    per month."""
    return scope.rollup(RiskMonth.objects.all())


def _money(value) -> Decimal | None:
    # Sums read from SQLite are floats in disguise; PostgreSQL's are exact already.
    return None if value is None else Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """A month's figures, or several months' added up. Exposures are None where no snapshot
    was taken (months before the rebuild first ran); flows are never None."""

    due: Decimal = _ZERO
    repaid: Decimal = _ZERO
    exposure: Decimal | None = None
    exposure_b: Decimal | None = None
    exposure_overdue: Decimal | None = None  # overdue facilities of customers outside tier B
    alerts_new: int = 0
    screened: int = 0
    screened_funded: int = 0
    snapshots: int = 0  # months whose exposure was observed (1 for a month that has a snapshot)

    @property
    def at_risk(self) -> Decimal | None:
        """Outstanding of facilities that are tier B or overdue: each counted once."""
        if self.exposure is None:
            return None
        return (self.exposure_b or _ZERO) + (self.exposure_overdue or _ZERO)

    @property
    def average_exposure(self) -> Decimal | None:
        """Outstanding per observed month: what a period's stock figure means (a sum of three
        month-end stocks is no amount anybody holds)."""
        return self._average(self.exposure)

    @property
    def average_at_risk(self) -> Decimal | None:
        return self._average(self.at_risk)

    def _average(self, total: Decimal | None) -> Decimal | None:
        if total is None or not self.snapshots:
            return None
        return (total / self.snapshots).quantize(_CENT, rounding=ROUND_HALF_UP)

    @property
    def recovery_rate(self) -> Decimal | None:
        """Fund recovery rate (资金回收率): repaid ÷ due, in percent."""
        return percent(self.repaid, self.due)

    @property
    def portfolio_risk(self) -> Decimal | None:
        """Portfolio risk (投资组合风险): at-risk outstanding ÷ outstanding, in percent."""
        return percent(self.at_risk, self.exposure)

    @property
    def screening_efficiency(self) -> Decimal | None:
        """Screening efficiency (客户筛选效率): screened deals that reached Approved ÷ screened."""
        return percent(self.screened_funded, self.screened)

    @property
    def has_kpi(self) -> bool:
        """Whether any of the three KPIs has a value this month (something to compare)."""
        return any(getattr(self, key) is not None for key, _label, _better in KPIS)

    def __add__(self, other: "Figures") -> "Figures":
        def add(a, b):
            # A period's exposure is the sum of its months' snapshots; months without one add
            # nothing (None + None stays None: no snapshot at all in the period).
            return b if a is None else a if b is None else a + b

        return Figures(
            due=self.due + other.due,
            repaid=self.repaid + other.repaid,
            exposure=add(self.exposure, other.exposure),
            exposure_b=add(self.exposure_b, other.exposure_b),
            exposure_overdue=add(self.exposure_overdue, other.exposure_overdue),
            alerts_new=self.alerts_new + other.alerts_new,
            screened=self.screened + other.screened,
            screened_funded=self.screened_funded + other.screened_funded,
            snapshots=self.snapshots + other.snapshots,
        )


@dataclass(frozen=True)
class MonthRow:
    month: date
    figures: Figures


@dataclass(frozen=True)
class Period:
    first: date  # first day of the first month
    last: date  # first day of the last month
    figures: Figures


# The three KPIs: key, label, whether a higher value is better.
KPIS = [
    ("recovery_rate", _("Fund recovery rate"), True),
    ("portfolio_risk", _("Portfolio risk"), False),
    ("screening_efficiency", _("Screening efficiency"), True),
]


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    current: Decimal | None
    baseline: Decimal | None
    higher_is_better: bool

    @property
    def difference(self) -> Decimal | None:
        """Current minus baseline, in percentage points."""
        if self.current is None or self.baseline is None:
            return None
        return self.current - self.baseline

    @property
    def verdict(self) -> str:
        """ "better", "worse", "same", or "" when there is nothing to compare."""
        difference = self.difference
        if difference is None:
            return ""
        if difference == 0:
            return "same"
        return "better" if (difference > 0) == self.higher_is_better else "worse"


@dataclass(frozen=True)
class RiskReport:
    today: date
    months: dict[date, Figures]  # every month kept that has a row, oldest first
    current: Period
    baseline: Period
    kpis: list[Kpi] = field(default_factory=list)

    @property
    def has_figures(self) -> bool:
        return bool(self.months)

    @cached_property
    def trend(self) -> list[MonthRow]:
        """The last TREND_MONTHS months, oldest first, zero where nothing happened."""
        return [
            MonthRow(month, self.months.get(month, Figures()))
            for month in (month_start(self.today, back=back) for back in range(TREND_MONTHS - 1, -1, -1))
        ]

    @property
    def is_to_date(self) -> bool:
        """Whether the current period ends with this month (its figures to date)."""
        return self.current.last == month_start(self.today, back=0)

    @cached_property
    def thin(self) -> dict[str, set[date]]:
        """Per KPI, the trend's months whose rate rests on too little to chart (THIN_SHARE)."""
        trend = self.trend
        thin: dict[str, set[date]] = {}
        for key, field_name in DENOMINATORS.items():
            sizes = sorted(Decimal(getattr(row.figures, field_name) or 0) for row in trend)
            sizes = [size for size in sizes if size > 0]
            typical = sizes[len(sizes) // 2] if sizes else Decimal(0)
            thin[key] = {
                row.month
                for row in trend
                if getattr(row.figures, key) is not None
                and Decimal(getattr(row.figures, field_name) or 0) < typical * THIN_SHARE
            }
        return thin

    def charted(self, key: str) -> list[Decimal | None]:
        """A KPI's monthly rates for the chart: None (a gap) where undefined or thin."""
        thin = self.thin[key]
        return [None if row.month in thin else getattr(row.figures, key) for row in self.trend]

    @property
    def snapshot(self) -> Figures:
        """This month's figures: the exposure snapshot of the latest rebuild."""
        return self.months.get(month_start(self.today, back=0), Figures())


def kept_months(today: date) -> tuple[date, date]:
    """The first and last month a baseline may cover: the months the rebuild keeps."""
    return month_start(today, back=MONTHS_KEPT - 1), month_start(today, back=0)


def default_periods(today: date, with_figures: Iterable[date]) -> tuple[tuple[date, date], tuple[date, date]]:
    """The current period and the default baseline, as (first month, last month) each, from the
    months that have a KPI value (``with_figures``).

    Current: the CURRENT_MONTHS months ending with the latest month that has figures (this
    month once it has any). Baseline: from the BASELINE_MONTHS-th last month with figures
    before the current period to the last one, so that it compares whenever earlier figures
    exist; without any, the months just before the current period (and "no comparison")."""
    this_month = month_start(today, back=0)
    months = sorted(month for month in with_figures if month <= this_month)
    last = months[-1] if months else this_month
    current = (month_start(last, back=CURRENT_MONTHS - 1), last)
    before = [month for month in months if month < current[0]]
    if before:
        baseline = (before[-BASELINE_MONTHS:][0], before[-1])
    else:
        baseline = (month_start(current[0], back=BASELINE_MONTHS), month_start(current[0], back=1))
    return current, baseline


def _period(months: dict[date, Figures], first: date, last: date) -> Period:
    total = Figures()
    for month, figures in months.items():
        if first <= month <= last:
            total = total + figures
    return Period(first, last, total)


def monthly_figures(rows: QuerySet | None) -> dict[date, Figures]:
    """The rows summed per month (an RM's rows of several teams add up): one query."""
    if rows is None:
        return {}
    grouped = (
        rows.order_by("month")
        .values("month")
        .annotate(
            s_due=Sum("due"),
            s_repaid=Sum("repaid"),
            s_exposure=Sum("exposure"),
            s_exposure_b=Sum("exposure_b"),
            s_exposure_overdue=Sum("exposure_overdue"),
            s_alerts_new=Sum("alerts_new"),
            s_screened=Sum("screened"),
            s_screened_funded=Sum("screened_funded"),
        )
    )
    return {
        row["month"]: Figures(
            due=_money(row["s_due"]) or _ZERO,
            repaid=_money(row["s_repaid"]) or _ZERO,
            exposure=_money(row["s_exposure"]),
            exposure_b=_money(row["s_exposure_b"]),
            exposure_overdue=_money(row["s_exposure_overdue"]),
            alerts_new=row["s_alerts_new"] or 0,
            screened=row["s_screened"] or 0,
            screened_funded=row["s_screened_funded"] or 0,
            snapshots=0 if row["s_exposure"] is None else 1,
        )
        for row in grouped
    }


def risk_report(scope: Scope, *, today: date, baseline: tuple[date, date] | None = None) -> RiskReport:
    """The KPI figures of the dashboard for this scope (one query). ``baseline`` is (first
    month, last month) as the manager picked it, or None for the default (``default_periods``)."""
    months = monthly_figures(rollup_rows(scope))
    current_months, default = default_periods(today, (month for month, figures in months.items() if figures.has_kpi))
    current = _period(months, *current_months)
    base = _period(months, *(baseline or default))
    kpis = [
        Kpi(key, str(label), getattr(current.figures, key), getattr(base.figures, key), better)
        for key, label, better in KPIS
    ]
    return RiskReport(today=today, months=months, current=current, baseline=base, kpis=kpis)
