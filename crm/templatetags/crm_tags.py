from decimal import ROUND_HALF_UP, Decimal

from django import forms, template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.utils.translation import get_language

from crm.widgets import fast_select

register = template.Library()


@register.filter
def control(field, size: str = "sm"):
    """Render a bound field with the Bootstrap class its widget needs."""
    widget = field.field.widget
    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
    return field.as_widget(widget=fast_select(widget), attrs={"class": f"{css} {css}-{size}" if size else css})


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


@register.filter
def filters_applied(form) -> int:
    """How many of a filter form's visible fields the user has set to something other than
    their default: the count on the phone's "Filters" button, which also opens the bar."""
    if not form.is_bound:
        return 0
    applied = 0
    for field in form.visible_fields():
        values = [v for v in form.data.getlist(field.html_name) if v not in ("", None)]
        initial = form.get_initial_for_field(field.field, field.name)
        if values and values != [str(initial)] and values != [initial]:
            applied += 1
    return applied
