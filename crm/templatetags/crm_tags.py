from decimal import ROUND_HALF_UP, Decimal

from django import forms, template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import format_html

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


@register.simple_tag
def tier_badge(tier: str):
    label = Tier(tier).label if tier in Tier.values else tier
    return format_html(
        '<span class="badge tier-badge {}" data-tier="{}">{}</span>', _TIER_CLASS.get(tier, ""), tier, label
    )


@register.simple_tag
def tier_label(tier: str) -> str:
    return str(Tier(tier).label) if tier in Tier.values else tier
