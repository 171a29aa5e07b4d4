"""An alert's ``observed`` JSON made readable: the grade change with both breakdowns side by
side, labelled and formatted facts (amounts, dates, ratings), and the facilities and deals it
names, looked up among the alert's own customer's.

The alert kinds (risk.alerts) record what they saw as plain JSON: Decimals and dates as text,
before/after values as ``old_x``/``new_x`` (or ``previous_x``/``x``). Keys this module does not
know are still shown, labelled from their name and formatted by their value, so a new kind
needs no change here to be readable."""

import datetime
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.grading import ATTRIBUTES
from customers.models import Tier
from funnel.models import Deal
from risk.models import Alert, Facility
from risk.selectors.facilities import with_overdue

MONEY, NUMBER, DATE, DATETIME, TEXT, TIER, LINES = "money", "number", "date", "datetime", "text", "tier", "lines"

# Labels and formats of the keys the alert kinds record (risk.alerts ``observe`` functions).
# Keys not listed here are still shown, labelled from their name and formatted by their value.
_KEYS: dict[str, tuple[Any, str]] = {
    "amount_overdue": (_("Amount overdue (CNY)"), MONEY),
    "days_overdue": (_("Days overdue"), NUMBER),
    "as_of": (_("As of"), DATE),
    "drawn_total": (_("Drawn on open facilities (CNY)"), MONEY),
    "drawn": (_("Drawn (CNY)"), MONEY),
    "credit_limit": (_("Credit limit (CNY)"), MONEY),
    "limit": (_("Limit (CNY)"), MONEY),
    "excess": (_("Above the limit (CNY)"), MONEY),
    "graded_at": (_("Graded"), DATETIME),
    "tier": (_("Tier"), TIER),
    "score": (_("Score"), NUMBER),
    "drop": (_("Score drop (points)"), NUMBER),
    "points": (_("Alerts from a drop of (points)"), NUMBER),
    "rating": (_("Credit bureau rating"), TEXT),
    "notches": (_("Notches down"), NUMBER),
    "bureau_rating": (_("Credit bureau rating"), TEXT),
    "debt_ratio": (_("Debt ratio"), NUMBER),
    "above": (_("Alerts above"), NUMBER),
    "threshold": (_("Threshold"), NUMBER),
    "next_review_date": (_("Review due"), DATE),
    "review_due": (_("Review due"), DATE),
    "last_review_date": (_("Last reviewed"), DATE),
    "watch_review_by": (_("On the watch list: review by"), DATE),
    "credit_report_date": (_("Latest credit report"), DATE),
    "statement_date": (_("Latest financial statement"), DATE),
    "funding_need_date": (_("Latest funding need"), DATE),
    "max_age_days": (_("Oldest data allowed (days)"), NUMBER),
    "days": (_("Days"), NUMBER),
    "days_in_stage": (_("Days in stage"), NUMBER),
    "age_days": (_("Age (days)"), NUMBER),
    "since": (_("Stale since"), DATETIME),
    "deals_total": (_("Stale deals in all"), NUMBER),
    "limit_from": (_("Age limit set by"), TEXT),
    "stale": (_("Stale inputs"), LINES),
    "facilities_over_limit": (_("Facilities drawn above their own limit"), LINES),
    "facility": (_("Facility"), TEXT),
}
# Values recorded as codes, shown in words.
_VALUES = {
    "limit_from": {"rule": _("the alert rule"), "tier_policy": _("the tier policy")},
}
# Shown in their own sections, not as facts (and the grade keys, see _grade_keys).
_FACILITY_KEYS = ("facilities", "facility")
_DEAL_KEYS = ("deals", "deal", "stale_deals")
_TIER_RANK = {Tier.AA.value: 3, Tier.A.value: 2, Tier.B.value: 1}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class Fact:
    label: str
    kind: str
    value: Any
    before: Any = None  # set for a change: shown as "before → value"
    before_kind: str = TEXT
    is_change: bool = False


@dataclass(frozen=True)
class CriterionChange:
    label: str
    old: Any
    new: Any

    @property
    def delta(self) -> Decimal | None:
        old, new = _decimal(self.old), _decimal(self.new)
        return None if old is None or new is None else new - old


@dataclass(frozen=True)
class GradeChange:
    old_tier: str | None
    new_tier: str | None
    old_score: Decimal | None
    new_score: Decimal | None
    criteria: list[CriterionChange]

    @property
    def tier_direction(self) -> int:
        """-1 a downgrade, 1 an upgrade, 0 neither (or Unrated on either side)."""
        old, new = _TIER_RANK.get(self.old_tier or ""), _TIER_RANK.get(self.new_tier or "")
        if old is None or new is None or old == new:
            return 0
        return 1 if new > old else -1

    @property
    def score_delta(self) -> Decimal | None:
        if self.old_score is None or self.new_score is None:
            return None
        return self.new_score - self.old_score


@dataclass(frozen=True)
class DealLine:
    deal: Deal
    days_in_stage: int
    details: list[Fact] = field(default_factory=list)


@dataclass(frozen=True)
class Observation:
    grade_change: GradeChange | None
    facts: list[Fact]
    facilities: list[Facility]
    deals: list[DealLine]
    missing_facilities: int = 0  # codes recorded that no longer match a facility of the customer

    @property
    def is_empty(self) -> bool:
        return not (self.grade_change or self.facts or self.facilities or self.deals)


def observation_of(alert: Alert) -> Observation:
    """The alert's ``observed`` JSON as sections: the grade change (tiers, scores and the two
    breakdowns side by side), facts with labels and formats, the facilities and deals it names
    (looked up among the alert's customer's, so a code can never show somebody else's)."""
    observed = alert.observed if isinstance(alert.observed, dict) else {"value": alert.observed}
    facilities, missing = _facilities(alert, observed)
    return Observation(
        grade_change=_grade_change(observed),
        facts=_facts(observed),
        facilities=facilities,
        deals=_deals(alert, observed),
        missing_facilities=missing,
    )


def _grade_keys(observed: dict) -> dict[str, str]:
    """Which keys hold the grade before and after: ``old_tier``/``new_tier`` as the downgrade
    rule records them, or ``previous_tier``/``tier`` as the customer's own fields are named.
    Empty when the observation says nothing about a grade *change*."""
    found = {}
    for name in ("tier", "score", "breakdown"):
        for role, candidates in (("old", (f"old_{name}", f"previous_{name}")), ("new", (f"new_{name}", name))):
            key = next((k for k in candidates if k in observed), None)
            if key:
                found[f"{role}_{name}"] = key
    changed = any(k.startswith(("old_", "previous_", "new_")) for k in found.values())
    return found if changed else {}


def _grade_change(observed: dict) -> GradeChange | None:
    keys = _grade_keys(observed)
    if not keys:
        return None

    def get(name: str):
        return observed.get(keys[name]) if name in keys else None

    old, new = get("old_breakdown") or {}, get("new_breakdown") or {}
    criteria = []
    if isinstance(old, dict) and isinstance(new, dict):
        # In the order the scorecard attributes are defined, then any it no longer knows.
        names = [a for a in ATTRIBUTES if a in old or a in new]
        names += sorted((set(old) | set(new)) - set(names))
        criteria = [CriterionChange(label=_attribute_label(a), old=old.get(a), new=new.get(a)) for a in names]
    return GradeChange(
        old_tier=get("old_tier") or None,
        new_tier=get("new_tier") or None,
        old_score=_decimal(get("old_score")),
        new_score=_decimal(get("new_score")),
        criteria=criteria,
    )


def _attribute_label(name: str) -> str:
    attribute = ATTRIBUTES.get(name)
    return str(attribute.label) if attribute else _humanize(name)


def _facts(observed: dict) -> list[Fact]:
    skip = set(_grade_keys(observed).values()) | set(_FACILITY_KEYS) | set(_DEAL_KEYS)
    facts: list[Fact] = []
    paired: set[str] = set()
    # Before/after pairs ("old_rating"/"new_rating", "previous_rating"/"rating") become one
    # change, shown where the first of the two keys is.
    for key in observed:
        if key in skip or key in paired:
            continue
        pair = _pair_of(key, observed)
        if pair:
            before_key, after_key, base = pair
            paired.update((before_key, after_key))
            after, before = observed[after_key], observed[before_key]
            label, kind = _label_kind(base, after if after is not None else before)
            after_kind, after = _value(kind, after)
            before_kind, before = _value(kind, before)
            facts.append(
                Fact(label=label, kind=after_kind, value=after, before=before, before_kind=before_kind, is_change=True)
            )
            continue
        facts.append(_fact(key, observed[key]))
    return facts


def _fact(key: str, raw) -> Fact:
    label, kind = _label_kind(key, raw)
    if key in _VALUES and isinstance(raw, str):
        return Fact(label=label, kind=TEXT, value=str(_VALUES[key].get(raw, raw)))
    if kind == LINES and isinstance(raw, list):
        # A list of records (e.g. each stale input with its date and age): one line each.
        return Fact(label=label, kind=LINES, value=[_line(item) for item in raw])
    kind, value = _value(kind, raw)
    return Fact(label=label, kind=kind, value=value)


def _line(item) -> list[Fact]:
    if not isinstance(item, dict):
        return [_fact("value", item)]
    # {"source": "credit_report_date", ...} names the input the rest of the record is about.
    source = item.get("source")
    facts = [Fact(label="", kind=TEXT, value=_label_kind(source, None)[0])] if isinstance(source, str) else []
    for key, value in item.items():
        if key == "age_days" and isinstance(value, int):
            facts.append(
                Fact(
                    label="",
                    kind=TEXT,
                    value=ngettext("%(days)d day old", "%(days)d days old", value) % {"days": value},
                )
            )
        elif key != "source":
            facts.append(_fact(key, value))
    return facts


def _pair_of(key: str, observed: dict) -> tuple[str, str, str] | None:
    for prefix in ("old_", "previous_"):
        if key.startswith(prefix):
            base = key[len(prefix) :]
            for partner in (f"new_{base}", base):
                if partner in observed:
                    return key, partner, base
    for partner_prefix in ("old_", "previous_"):
        for prefix in ("new_", ""):
            if key.startswith(prefix):
                base = key[len(prefix) :]
                before = f"{partner_prefix}{base}"
                if before in observed and before != key:
                    return before, key, base
    return None


def _label_kind(key: str, value) -> tuple[str, str]:
    if key in _KEYS:
        label, kind = _KEYS[key]
        return str(label), kind
    return _humanize(key), _guess_kind(key, value)


def _guess_kind(key: str, value) -> str:
    if isinstance(value, bool) or value is None:
        return TEXT
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        if _DATE_RE.match(value):
            return DATE
        if _DATETIME_RE.match(value):
            return DATETIME
        if _decimal(value) is not None:
            money_words = ("amount", "drawn", "limit", "outstanding", "exposure", "balance")
            return MONEY if any(word in key for word in money_words) else NUMBER
    return TEXT


def _value(kind: str, value) -> tuple[str, Any]:
    """(kind, value) with the value in the type its template filter expects; what does not
    parse as its kind is shown as text."""
    if value is None:
        return TEXT, None
    if kind == MONEY:
        amount = _decimal(value)
        return (MONEY, amount) if amount is not None else (TEXT, str(value))
    if kind == DATE:
        day = parse_date(value) if isinstance(value, str) else None
        return (DATE, day) if day else (TEXT, str(value))
    if kind == DATETIME:
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            return TEXT, str(value)
        return DATETIME, moment if timezone.is_aware(moment) else timezone.make_aware(moment, datetime.UTC)
    if isinstance(value, bool):
        return TEXT, str(_("Yes") if value else _("No"))
    if isinstance(value, list):
        return TEXT, ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return TEXT, "; ".join(f"{_humanize(str(k))}: {_text(v)}" for k, v in value.items())
    return kind, value


def _text(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return "—" if value is None else str(value)


def _humanize(key: str) -> str:
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _codes(value) -> list[uuid.UUID]:
    items = value if isinstance(value, list) else [value]
    codes = []
    for item in items:
        raw = item.get("code") if isinstance(item, dict) else item
        try:
            codes.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    return codes


def _facilities(alert: Alert, observed: dict) -> tuple[list[Facility], int]:
    codes = [c for key in _FACILITY_KEYS if key in observed for c in _codes(observed[key])]
    if not codes:
        return [], 0
    # Today's figures beside the ones recorded when the alert was raised.
    found = list(
        with_overdue(
            Facility.objects.filter(customer_id=alert.customer_id, code__in=codes).select_related("deal"),
            today=timezone.localdate(),
        ).order_by("start_date", "id")
    )
    return found, len(set(codes)) - len(found)


def _deals(alert: Alert, observed: dict) -> list[DealLine]:
    details: dict[uuid.UUID, list[Fact]] = {}
    for key in _DEAL_KEYS:
        if key not in observed:
            continue
        items = observed[key] if isinstance(observed[key], list) else [observed[key]]
        for item in items:
            for code in _codes(item):
                extra = item.items() if isinstance(item, dict) else ()
                # Title and stage are read from the deal as it is now; the rest as recorded.
                details[code] = [_fact(k, v) for k, v in extra if k not in ("code", "title", "stage")]
    if not details:
        return []
    now = timezone.now()
    deals = Deal.objects.filter(customer_id=alert.customer_id, code__in=list(details)).order_by("stage_entered_at")
    return [DealLine(deal=d, days_in_stage=d.days_in_stage(now), details=details[d.code]) for d in deals]
