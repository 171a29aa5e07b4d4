"""Checks of alert-rule parameters. Each takes the params with the kind's defaults applied and
returns the problems, one translated sentence each, that the admin shows under "parameters"."""

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

from customers.choices import CreditRating, Tier

# Notches between the best and the worst bureau rating (AAA … D).
MAX_NOTCHES = len(CreditRating.values) - 1


def number(value) -> Decimal | None:
    """A parameter given as a JSON number or a numeric string, as an exact Decimal; None if it
    is neither. Floats go through their shortest text (0.7 → "0.7"), not their binary value."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def whole(value) -> int | None:
    """A parameter that must be a whole JSON number (True is not 1, "3" is not 3)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def check_from_tiers(params: dict) -> list:
    value = params["from_tiers"]
    if not isinstance(value, list) or not value or any(t not in (Tier.AA, Tier.A) for t in value):
        # B is the lowest graded tier: nothing to be downgraded to from there.
        return [_('"from_tiers" must be a non-empty list of tiers out of "AA" and "A".')]
    return []


def check_days(params: dict) -> list:
    value = whole(params["days"])
    if value is None or value < 0:
        return [_('"days" must be a whole number of days, zero or more.')]
    return []


def check_nothing(params: dict) -> list:
    return []


def check_points(params: dict) -> list:
    value = number(params["points"])
    if value is None or not Decimal(0) < value <= Decimal(100):
        return [_('"points" must be a number of score points above 0 and at most 100, e.g. 10.')]
    return []


def check_notches(params: dict) -> list:
    value = whole(params["notches"])
    if value is None or not 1 <= value <= MAX_NOTCHES:
        return [_('"notches" must be a whole number from 1 to %(max)s (AA to A is one notch).') % {"max": MAX_NOTCHES}]
    return []


def check_above(params: dict) -> list:
    value = number(params["above"])
    if value is None or not Decimal(0) < value <= Decimal(10):
        return [
            _(
                '"above" must be a debt ratio (total liabilities / total assets) above 0 and at most 10, '
                'as a number or a numeric string, e.g. "0.70".'
            )
        ]
    return []


def check_optional_days(params: dict) -> list:
    value = params["days"]
    if value is None:
        return []  # each customer's tier policy says how old is too old
    value = whole(value)
    if value is None or value < 1:
        return [
            _(
                '"days" must be a whole number of days, 1 or more, or null to use the maximum data '
                "age of each customer's tier policy."
            )
        ]
    return []
