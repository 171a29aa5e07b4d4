from decimal import ROUND_HALF_UP, Decimal

from django import forms, template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import template_localtime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from customers.models import Tier
from risk.models import AlertSeverity, AlertStatus

register = template.Library()

_TIER_CLASS = {Tier.AA: "tier-aa", Tier.A: "tier-a", Tier.B: "tier-b", Tier.UNRATED: "tier-unrated"}
# Bootstrap colour and icon per severity; anything else is shown like info.
_SEVERITY_BADGE = {
    AlertSeverity.CRITICAL: ("text-bg-danger", "bi-exclamation-octagon-fill"),
    AlertSeverity.WARNING: ("text-bg-warning", "bi-exclamation-triangle-fill"),
    AlertSeverity.INFO: ("text-bg-info", "bi-info-circle-fill"),
}
# Subtle colours per status; anything else is shown like resolved.
_STATUS_CLASS = {
    AlertStatus.OPEN: "bg-primary-subtle text-primary-emphasis border-primary-subtle",
    AlertStatus.ACKNOWLEDGED: "bg-secondary-subtle text-secondary-emphasis border-secondary-subtle",
    AlertStatus.RESOLVED: "bg-success-subtle text-success-emphasis border-success-subtle",
}


@register.filter
def control(field, size: str = "sm"):
    """Render a bound field with the Bootstrap class its widget needs."""
    widget = field.field.widget
    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
    return field.as_widget(attrs={"class": f"{css} {css}-{size}" if size else css})


@register.filter
def money(value) -> str:
    """CNY with thousands separators and exactly two decimals; rounding half-up as bankers
    print it. Never goes through float."""
    if value in (None, ""):
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return intcomma(f"{amount:.2f}", use_l10n=False)


@register.filter
def percent(value) -> str:
    """A share or rate already in percent, to one decimal ("97.2%"); "—" where there is none
    (e.g. nothing was due, so no recovery rate)."""
    if value in (None, ""):
        return "—"
    return f"{floatformat(value, 1)}%"


@register.filter
def money_compact(value) -> str:
    """Amounts at a glance on cards and totals: ¥80.0M / ¥1.25B, and in Chinese the units
    readers expect, 8,000万 / 1.25亿. Exact figures stay on the detail pages."""
    if value in (None, ""):
        return "—"
    amount = Decimal(value)
    if (get_language() or "").lower().startswith("zh"):
        if abs(amount) >= Decimal("1e8"):
            return f"{amount / Decimal('1e8'):,.2f}亿"
        if abs(amount) >= Decimal("1e4"):
            return f"{amount / Decimal('1e4'):,.0f}万"
        return f"{amount:,.0f}"
    if abs(amount) >= Decimal("1e9"):
        return f"¥{amount / Decimal('1e9'):,.2f}B"
    if abs(amount) >= Decimal("1e6"):
        return f"¥{amount / Decimal('1e6'):,.1f}M"
    return f"¥{amount:,.0f}"


@register.simple_tag
def tier_badge(tier: str):
    label = Tier(tier).label if tier in Tier.values else tier
    return format_html(
        '<span class="badge tier-badge {}" data-tier="{}">{}</span>', _TIER_CLASS.get(tier, ""), tier, label
    )


@register.simple_tag
def tier_label(tier: str) -> str:
    return str(Tier(tier).label) if tier in Tier.values else tier


@register.simple_tag
def severity_badge(severity: str) -> SafeString:
    """An alert or rule severity as a coloured badge with its icon, e.g. on the alert pages,
    the risk dashboard and the home page."""
    label = AlertSeverity(severity).label if severity in AlertSeverity.values else severity
    css, icon = _SEVERITY_BADGE.get(severity, _SEVERITY_BADGE[AlertSeverity.INFO])
    return format_html(
        '<span class="badge {}" data-severity="{}"><i class="bi {} me-1" aria-hidden="true"></i>{}</span>',
        css,
        severity,
        icon,
        label,
    )


@register.simple_tag
def alert_status_badge(alert) -> SafeString:
    """An alert's status as a badge and, once the escalation job has passed it up, a red
    "escalated" marker beside it whose tooltip says to whom and when."""
    status = alert.status
    label = AlertStatus(status).label if status in AlertStatus.values else status
    badge = format_html(
        '<span class="badge border {}" data-status="{}">{}</span>',
        _STATUS_CLASS.get(status, _STATUS_CLASS[AlertStatus.RESOLVED]),
        status,
        label,
    )
    if not alert.escalated_at:
        return badge
    # As the template |date filter shows it: in the current time zone, in the locale's format.
    when = formats.date_format(template_localtime(alert.escalated_at), "SHORT_DATETIME_FORMAT")
    if alert.escalated_to:
        title = _("Escalated to %(who)s, %(when)s") % {"who": alert.escalated_to, "when": when}
    else:
        title = when
    return format_html(
        '{} <span class="badge text-bg-danger" data-testid="escalated" title="{}">'
        '<i class="bi bi-arrow-up-circle-fill me-1" aria-hidden="true"></i>{}</span>',
        badge,
        title,
        _("escalated"),
    )
