"""The funnel analytics page: screening efficiency from the precomputed rollup.

The page never touches deals: it reads the user's level of ``FunnelRollup`` (rebuilt every 15
minutes by funnel.tasks.funnel_rollup_rebuild), so it costs the same few queries for an RM with
ten deals and an admin with two million."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from crm.numbers import chart_number
from crm.scope import Scope
from customers.choices import Tier
from funnel.analytics import CAP_DAYS, CYCLE_MONTHS, KPI_CYCLE_MONTHS, FunnelReport, funnel_report, is_stale


def _chart(report: FunnelReport) -> dict:
    return {
        "funnel": {
            "label": _("Deals that reached the stage"),
            "labels": [row.label for row in report.layers],
            "reached": [row.reached for row in report.layers],
        },
        "stages": {
            "labels": [row.label for row in report.open_stages],
            "amount": [chart_number(row.amount) for row in report.open_stages],
            "weighted": [chart_number(row.weighted) for row in report.open_stages],
            "amountLabel": _("Amount (CNY)"),
            "weightedLabel": _("Weighted (CNY)"),
        },
        "tiers": {
            "tiers": [row.tier for row in report.tiers],
            "labels": [str(Tier(row.tier).label) for row in report.tiers],
            "winRate": [chart_number(row.win_rate) for row in report.tiers],
            "label": _("Win rate (%)"),
        },
        "days": {
            "labels": [row.label for row in report.days],
            "median": [chart_number(row.median) for row in report.days],
            "expected": [row.expected for row in report.days],
            "medianLabel": _("Median days"),
            "expectedLabel": _("Expected days"),
        },
        "cycle": {
            "labels": [f"{row.month:%Y-%m}" for row in report.months],
            "median": [chart_number(row.median) for row in report.months],
            "mean": [chart_number(row.mean) for row in report.months],
            "deals": [row.deals for row in report.months],
            "medianLabel": _("Median days"),
            "meanLabel": _("Mean days"),
            "dealsLabel": _("Deals screened"),
            "daysAxis": _("Days"),
            "dealsAxis": pgettext("number of deals", "Deals"),
        },
    }


@require_GET
def analytics(request: HttpRequest) -> HttpResponse:
    scope = Scope.of(request.user)
    report = funnel_report(scope)
    context = {
        "report": report,
        "scope": scope.label,
        "cap_days": CAP_DAYS,
        "cycle_months": CYCLE_MONTHS,
        "kpi_cycle_months": KPI_CYCLE_MONTHS,
    }
    if report.run is not None:
        context["stale"] = is_stale(report.run)
        context["chart"] = _chart(report)
    return render(request, "funnel/analytics.html", context)
