"""The managers' risk dashboard: the method's three KPIs against a baseline, and what needs
attention now.

History (the KPIs, month by month) and exposure by tier come from ``RiskMonth``, rebuilt every
30 minutes by risk.tasks.risk_rollup_rebuild; the panels about now (alerts, watch list,
reviews) are live, bounded queries scoped with the access helpers. The page never talks to the
broker: with the broker down it answers as fast as ever, and base.html says that background
processing is delayed."""

from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.models import JobLock, Team
from crm.numbers import chart_number
from crm.scope import Scope
from customers.access import customers_for
from risk.access import alerts_for, can_import_repayments, can_work_alerts, sees_risk_dashboard
from risk.dashboard import (
    ACT_SIZE,
    CURRENT_MONTHS,
    SEVERITIES,
    TREND_MONTHS,
    WEEKS,
    RiskReport,
    TierExposure,
    alert_summary,
    alerts_to_act_on,
    exposure_by_tier,
    kept_months,
    reviews_overdue,
    risk_report,
    rollup_rows,
    watch_list,
)
from risk.dashboard.forms import DashboardForm
from risk.dashboard.live import LIST_SIZE
from risk.forms import ResolveForm
from risk.models import AlertSeverity, AlertStatus

SEVERITY_CHOICES = AlertSeverity.choices

# The name risk.tasks.risk_rollup_rebuild takes its job lock under: the lock row remembers when
# the last rebuild finished, which is when the figures are "as of".
ROLLUP_JOB = "risk_rollup_rebuild"
STALE_AFTER = timedelta(hours=2)  # four refresh intervals: the beat job has probably stopped
SHORT_LIST = 8  # rows of the watch list and reviews overdue until the user asks for all of them


def alerts_url(**params) -> str:
    """A link to the alert list filtered as the dashboard counted (its django-filter params)."""
    query = urlencode({key: value for key, value in params.items() if value})
    return f"{reverse('risk:alerts')}?{query}" if query else reverse("risk:alerts")


def _chart(report: RiskReport, weeks, tiers: list[TierExposure]) -> dict:
    severity_labels = {s.value: str(s.label) for s in AlertSeverity}
    trend = report.trend
    return {
        "weeks": {
            "labels": [f"{row.week:%m-%d}" for row in weeks],
            "series": [
                {
                    "severity": severity.value,
                    "label": severity_labels[severity.value],
                    "data": [row.counts.get(severity.value, 0) for row in weeks],
                }
                for severity in SEVERITIES
            ],
            "axis": _("Alerts opened"),
        },
        "tiers": {
            "tiers": [row.tier for row in tiers],
            "labels": [row.label for row in tiers],
            "outstanding": [chart_number(row.outstanding) for row in tiers],
            "label": _("Outstanding (CNY)"),
        },
        "kpis": {
            "labels": [f"{row.month:%Y-%m}" for row in trend],
            "series": [
                {
                    "key": kpi.key,
                    "label": kpi.label,
                    # Gaps where a month's rate rests on too little (report.THIN_SHARE).
                    "data": [chart_number(value) for value in report.charted(kpi.key)],
                    "baseline": chart_number(kpi.baseline),
                    "baselineLabel": _("%(kpi)s, baseline") % {"kpi": kpi.label},
                }
                for kpi in report.kpis
            ],
            "axis": _("Percent"),
        },
    }


def _as_of() -> datetime | None:
    return JobLock.objects.filter(name=ROLLUP_JOB).values_list("last_finished_at", flat=True).first()


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not sees_risk_dashboard(user):
        raise Http404
    today = timezone.localdate()
    first, last = kept_months(today)
    scope = Scope.of(user)
    sees_teams = scope.sees_all
    form = DashboardForm(request.GET, teams=scope.teams() if sees_teams else None, first=first, last=last)
    team = form.chosen_team
    seen = scope.narrowed_to(team)

    customers = customers_for(user)
    alerts = alerts_for(user)
    if team is not None:
        customers = customers.filter(team=team)
        alerts = alerts.filter(team=team)
    # The teams of the alerts-by-team table, listed even without alerts; grouping by team costs
    # a join to the customers, needed only where the alerts may belong to several teams.
    if team is not None:
        listed_teams, by_team = Team.objects.filter(pk=team.pk), False
    elif sees_teams:
        listed_teams, by_team = Team.objects.all(), True
    elif scope.is_team:
        listed_teams, by_team = Team.objects.filter(pk=scope.team_id), False
    else:
        listed_teams, by_team = None, True  # an RM: the teams of their customers that have alerts

    report = risk_report(seen, today=today, baseline=form.baseline)
    counts, weeks = alert_summary(alerts, scope=seen, today=today, teams=listed_teams, by_team=by_team)
    # From the rollup's snapshot (the same level as the KPIs): the join of the customers and
    # their facilities it replaces cost 400 ms firm-wide (issue #14). None until a rebuild has
    # taken one.
    tiers = exposure_by_tier(rollup_rows(seen), today=today)
    as_of = _as_of()
    team_code = str(team.code) if team else ""

    severity_labels = dict(SEVERITY_CHOICES)
    with_team = {"team": team_code} if sees_teams else {}  # the list's team filter is theirs only
    # The two customer lists show SHORT_LIST rows, and LIST_SIZE after "show all" (?lists=all).
    lists_all = request.GET.get("lists") == "all"
    limit = LIST_SIZE if lists_all else SHORT_LIST
    overdue = reviews_overdue(customers, today=today, limit=limit)
    query = request.GET.copy()
    query["lists"] = "all"
    context = {
        "form": form,
        "scope": seen.label,
        "report": report,
        "ran": report.has_figures or as_of is not None,
        "as_of": as_of,
        "stale": as_of is not None and timezone.now() - as_of > STALE_AFTER,
        "counts": counts,
        "severity_rows": [
            {
                "severity": row.severity,
                "label": row.label,
                "open": row.open,
                "acknowledged": row.acknowledged,
                "open_url": alerts_url(severity=row.severity, status=AlertStatus.OPEN, **with_team),
                "acknowledged_url": alerts_url(severity=row.severity, status=AlertStatus.ACKNOWLEDGED, **with_team),
            }
            for row in counts.severities
        ],
        "team_rows": [
            {
                "code": row.code,
                "name": row.name,
                "total": row.total,
                "url": alerts_url(team=row.code if sees_teams else ""),
                "cells": [
                    {
                        "severity": severity,
                        "count": n,
                        "url": alerts_url(severity=severity, team=row.code if sees_teams else ""),
                    }
                    for severity, n in row.cells
                ],
            }
            for row in counts.teams
        ],
        "severities": [(s.value, s.label) for s in SEVERITIES],
        "to_act_on": alerts_to_act_on(alerts),
        "act_size": ACT_SIZE,
        "act_on_url": alerts_url(**with_team),  # the list shows the unresolved by default
        "can_work": can_work_alerts(user),
        "can_import": can_import_repayments(user),
        "resolve_form": ResolveForm(),
        "weeks": weeks,
        "week_table": [(severity_labels[s.value], [row.counts.get(s.value, 0) for row in weeks]) for s in SEVERITIES],
        "weeks_total": sum(row.total for row in weeks),
        "week_count": WEEKS,
        "watch": watch_list(customers, limit=limit),
        "lists_all": lists_all,
        "lists_all_url": f"{reverse('risk:dashboard')}?{query.urlencode()}",
        "overdue": overdue,
        "overdue_rows": [(c, (today - c.next_review_date).days) for c in overdue.customers],
        "tiers": tiers,
        "tiers_total": sum((row.outstanding for row in tiers or ()), Decimal("0")),
        "tiers_facilities": sum(row.facilities for row in tiers or ()),
        "trend_months": TREND_MONTHS,
        "current_months": CURRENT_MONTHS,
        "baseline_default": form.baseline is None,
        "first_month": first,
        "last_month": last,
        "next": request.get_full_path(),
        "today": today,
    }
    context["chart"] = _chart(report, weeks, tiers or [])
    return render(request, "risk/dashboard.html", context)
