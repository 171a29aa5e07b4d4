"""The board card, rendered in Python from a plain row (board_views.CARD_FIELDS): a board shows
up to 300 cards, and as template nodes (two URL reversals, a plural translation and three tags
each) they took most of the page's time. Same markup for a fraction of the cost; every text
that comes from data goes through ``escape``."""

import uuid
from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext, pgettext

from crm.templatetags.crm_tags import money_compact, tier_badge

register = template.Library()

_PLACEHOLDER = str(uuid.UUID(int=0))


class _CardKit:
    """What every card of one page shares, worked out once per render."""

    def __init__(self):
        self.detail = reverse("funnel:detail", args=[_PLACEHOLDER])
        self.move = reverse("funnel:move", args=[_PLACEHOLDER])
        self.badges: dict[str, str] = {}
        self.days: dict[int, str] = {}
        self.overdue = (
            '<span class="badge text-bg-danger ms-auto" data-testid="overdue">'
            + escape(pgettext("deal past its expected days in stage", "Overdue"))
            + "</span>"
        )

    def badge(self, tier: str) -> str:
        if tier not in self.badges:
            self.badges[tier] = tier_badge(tier)
        return self.badges[tier]

    def days_label(self, days: int) -> str:
        if days not in self.days:
            self.days[days] = escape(ngettext("%(days)s day in stage", "%(days)s days in stage", days) % {"days": days})
        return self.days[days]


@register.simple_tag(takes_context=True)
def deal_card(context, card: dict) -> str:
    kit = context.render_context.get("funnel_card_kit")
    if kit is None:
        kit = context.render_context["funnel_card_kit"] = _CardKit()
    code = str(card["code"])
    title = escape(card["title"])
    overdue = card["overdue"]
    return mark_safe(  # noqa: S308 - every value from data is escaped
        f'<article class="deal-card card shadow-sm{" is-overdue" if overdue else ""}" id="deal-{code}"'
        f' data-testid="deal-card" data-stage="{escape(card["stage"])}"'
        f' data-move-url="{kit.move.replace(_PLACEHOLDER, code)}" aria-label="{title}">'
        '<div class="card-body p-2">'
        f'<a class="deal-card-title fw-semibold" href="{kit.detail.replace(_PLACEHOLDER, code)}">{title}</a>'
        f'<div class="small text-truncate text-body-secondary">{escape(card["customer__name"])}</div>'
        f'<div class="d-flex align-items-center gap-2 mt-1">{kit.badge(card["customer__tier"])}'
        f'<span class="ms-auto fw-semibold tabular">{escape(money_compact(card["amount"]))}</span></div>'
        '<div class="d-flex align-items-center gap-1 mt-1 small text-body-secondary">'
        f"<span>{kit.days_label(card['days'])}</span>{kit.overdue if overdue else ''}</div>"
        "</div></article>"
    )
