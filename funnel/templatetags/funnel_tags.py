"""The board card, rendered in Python from a plain row (funnel.views.board.CARD_FIELDS): a board shows
up to 300 cards, and as template nodes (two URL reversals, a plural translation and three tags
each) they took most of the page's time. Same markup for a fraction of the cost, through
``format_html``: every value from data is escaped, and the pieces shared by many cards (tier
badges, day labels, the overdue badge) are safe strings built once per render."""

import uuid

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext, pgettext

from crm.templatetags.crm_tags import money_compact
from customers.templatetags.customers_tags import tier_badge

register = template.Library()

_PLACEHOLDER = str(uuid.UUID(int=0))
_CARD = (
    '<article class="deal-card card shadow-sm" id="deal-{code}" data-testid="deal-card"'
    ' data-stage="{stage}" data-move-url="{move}" aria-label="{title}">'
    '<div class="card-body p-2">'
    '<a class="deal-card-title fw-semibold" href="{detail}">{title}</a>'
    '<div class="deal-card-customer small text-body-secondary" title="{customer}">{customer}</div>'
    '<div class="d-flex align-items-center gap-2 mt-1">{badge}'
    '<span class="ms-auto fw-semibold tabular">{amount}</span></div>'
    '<div class="d-flex align-items-center gap-1 mt-1 small text-body-secondary">'
    "<span>{days}</span>{overdue}</div>"
    "</div></article>"
)


class _CardKit:
    """What every card of one page shares, worked out once per render."""

    def __init__(self):
        self.detail = reverse("funnel:detail", args=[_PLACEHOLDER])
        self.move = reverse("funnel:move", args=[_PLACEHOLDER])
        self.badges: dict[str, SafeString] = {}
        self.days: dict[int, SafeString] = {}
        self.overdue: dict[int, SafeString] = {}

    def badge(self, tier: str) -> SafeString:
        if tier not in self.badges:
            self.badges[tier] = tier_badge(tier)
        return self.badges[tier]

    def overdue_badge(self, setting) -> SafeString:
        """The small badge of a card past its stage's margin, its rule in the tooltip (per stage)."""
        if setting.stage not in self.overdue:
            self.overdue[setting.stage] = format_html(
                '<span class="badge text-bg-danger ms-auto" data-testid="overdue" title="{}">{}</span>',
                overdue_rule(setting),
                pgettext("deal past its expected days in stage", "Overdue"),
            )
        return self.overdue[setting.stage]

    def days_label(self, days: int) -> SafeString:
        if days not in self.days:
            label = ngettext("%(days)s day in stage", "%(days)s days in stage", days) % {"days": days}
            self.days[days] = conditional_escape(label)
        return self.days[days]


@register.simple_tag
def overdue_rule(setting) -> str:
    """The overdue rule of a stage in one sentence (StageSetting.is_overdue), for tooltips."""
    if setting is None or setting.overdue_after is None:
        return ""
    return gettext(
        "Overdue: more than %(limit)s days in this stage, half as long again as the expected %(expected)s days."
    ) % {"limit": setting.overdue_after, "expected": setting.expected_days}


@register.simple_tag(takes_context=True)
def deal_card(context, card: dict) -> SafeString:
    kit = context.render_context.get("funnel_card_kit")
    if kit is None:
        kit = context.render_context["funnel_card_kit"] = _CardKit()
    code = str(card["code"])
    return format_html(
        _CARD,
        code=code,
        stage=card["stage"],
        move=kit.move.replace(_PLACEHOLDER, code),
        detail=kit.detail.replace(_PLACEHOLDER, code),
        title=card["title"],
        customer=card["customer__name"],
        badge=kit.badge(card["customer__tier"]),
        amount=money_compact(card["amount"]),
        days=kit.days_label(card["days"]),
        overdue=kit.overdue_badge(card["setting"]) if card["overdue"] else "",
    )
