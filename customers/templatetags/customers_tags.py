"""Tiers as the pages show them."""

from django import template
from django.utils.html import format_html

from customers.models import Tier

register = template.Library()

_TIER_CLASS = {Tier.AA: "tier-aa", Tier.A: "tier-a", Tier.B: "tier-b", Tier.UNRATED: "tier-unrated"}


@register.simple_tag
def tier_badge(tier: str):
    label = Tier(tier).label if tier in Tier.values else tier
    return format_html(
        '<span class="badge tier-badge {}" data-tier="{}">{}</span>', _TIER_CLASS.get(tier, ""), tier, label
    )


@register.simple_tag
def tier_label(tier: str) -> str:
    return str(Tier(tier).label) if tier in Tier.values else tier
