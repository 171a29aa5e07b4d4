"""Alert severities and statuses, facilities' overdue state and schedule lines as the pages show
them."""

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from crm.templatetags.crm_tags import money
from risk.models import AlertSeverity, AlertStatus
from risk.selectors import InstallmentState

register = template.Library()

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


@register.simple_tag
def overdue_badge(facility) -> SafeString:
    """A facility's overdue amount and days (``risk.selectors.with_overdue`` annotations) on the
    lists and panels: red with the days when a payment is past due, amber when an installment
    falls due today and is not yet covered, a dash when nothing is owed now."""
    amount, days = facility.amount_overdue, facility.days_overdue
    if days > 0:
        label = ngettext("%(days)d day overdue", "%(days)d days overdue", days) % {"days": days}
        return format_html(
            '<span class="text-danger fw-semibold">{}</span> <span class="badge text-bg-danger" data-testid="overdue"'
            ' data-days="{}">{}</span>',
            money(amount),
            days,
            label,
        )
    if amount > 0:
        return format_html(
            '<span>{}</span> <span class="badge text-bg-warning" data-testid="due-today">{}</span>',
            money(amount),
            _("due today"),
        )
    return format_html('<span class="text-body-secondary" data-testid="not-overdue">{}</span>', _("not overdue"))


_INSTALLMENT_BADGE = {
    InstallmentState.PAID: ("text-bg-success", "bi-check-circle-fill"),
    InstallmentState.OVERDUE: ("text-bg-danger", "bi-exclamation-circle-fill"),
    InstallmentState.DUE: ("text-bg-light border", "bi-clock"),
}


@register.simple_tag
def installment_badge(state: str) -> SafeString:
    """A schedule line's state (``risk.selectors.installment_state``) on the facility page."""
    labels = {
        InstallmentState.PAID: pgettext("installment state", "Paid"),
        InstallmentState.OVERDUE: pgettext("installment state", "Overdue"),
        InstallmentState.DUE: pgettext("installment state", "Due"),
    }
    css, icon = _INSTALLMENT_BADGE[InstallmentState(state)]
    return format_html(
        '<span class="badge {}" data-state="{}"><i class="bi {} me-1" aria-hidden="true"></i>{}</span>',
        css,
        state,
        icon,
        labels[InstallmentState(state)],
    )
