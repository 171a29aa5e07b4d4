from datetime import date

import pytest

from crm.dates import add_months, month_start, week_start, whole_years_since


@pytest.mark.parametrize(
    ("day", "back", "first"),
    [
        (date(2024, 3, 31), 0, date(2024, 3, 1)),
        (date(2024, 3, 31), 1, date(2024, 2, 1)),  # the 31st does not skip the short February
        (date(2024, 1, 15), 1, date(2023, 12, 1)),  # across the year
        (date(2024, 1, 15), 23, date(2022, 2, 1)),
        (date(2024, 12, 15), -1, date(2025, 1, 1)),  # negative: months ahead
    ],
)
def test_month_start_counts_whole_months_back(day, back, first):
    assert month_start(day, back=back) == first


def test_week_start_is_the_monday_of_the_week():
    assert week_start(date(2024, 6, 9)) == date(2024, 6, 3)  # a Sunday
    assert week_start(date(2024, 6, 3)) == date(2024, 6, 3)
    assert week_start(date(2024, 1, 2)) == date(2024, 1, 1)


@pytest.mark.parametrize(
    ("day", "months", "later"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year: the month's last day
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 5, 10), 0, date(2024, 5, 10)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_shorter_months_last(day, months, later):
    assert add_months(day, months) == later


def test_whole_years_since_floors_and_is_never_negative():
    assert whole_years_since(date(2020, 6, 1), date(2024, 5, 31)) == 3  # a day short of four years
    assert whole_years_since(date(2020, 6, 1), date(2024, 6, 1)) == 4
    assert whole_years_since(date(2024, 6, 1), date(2024, 1, 1)) == 0  # a date in the future
    assert whole_years_since(None, date(2024, 6, 1)) is None  # no record is not zero years
