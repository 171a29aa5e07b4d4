from decimal import ROUND_HALF_UP, Decimal

from django import forms, template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import format_html
from django.utils.translation import get_language

from customers.models import Tier

register = template.Library()

_TIER_CLASS = {Tier.AA: "tier-aa", Tier.A: "tier-a", Tier.B: "tier-b", Tier.UNRATED: "tier-unrated"}


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
