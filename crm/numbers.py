"""Figures as the reports show them: percentages to one decimal and decimals on their way to
a chart."""

from decimal import ROUND_HALF_UP, Decimal

_TENTH = Decimal("0.1")


def percent(part: Decimal | int | None, whole: Decimal | int | None) -> Decimal | None:
    """``part`` as a percentage of ``whole`` to one decimal, half up; None (shown "—") without
    a part or a whole, rather than a misleading 0 % or a division by zero."""
    if part is None or not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def chart_number(value: object) -> str | None:
    """A figure for a chart's JSON: decimals go as strings (never through float on the server,
    which would show 0.30000000000000004); None stays null (a gap in the chart)."""
    return None if value is None else str(value)
