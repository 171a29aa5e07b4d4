"""Calendar arithmetic shared by the apps: month and week starts, adding months, whole years.
Pure functions of dates; which day is "today" (the Shanghai date, settings.TIME_ZONE) is the
caller's business."""

import calendar
from datetime import date, timedelta
from decimal import Decimal


def month_start(day: date, *, back: int) -> date:
    """The first day of the month ``back`` months before ``day``'s (0: its own month; negative:
    months after). Counted in whole months, so the 31st never skips a shorter month."""
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week (ISO weeks, as TruncWeek counts them)."""
    return day - timedelta(days=day.weekday())


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day if it is shorter (31 January
    plus one month is 28 or 29 February, as repayment schedules count)."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def whole_years_since(since: date | None, today: date) -> int | None:
    """Whole years from ``since`` to ``today``, never negative, at 365.25 days a year; None
    without a date. crm.sql.Dialect.whole_years_since is the SQL twin and must agree with it."""
    if since is None:
        return None
    return max(0, int(Decimal((today - since).days) / Decimal("365.25")))
