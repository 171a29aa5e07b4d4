from decimal import Decimal as D

from crm.numbers import chart_number, percent


def test_percent_is_rounded_half_up_to_one_decimal():
    assert percent(2, 3) == D("66.7")
    assert percent(1, 8) == D("12.5")
    assert percent(1, 16) == D("6.3")  # 6.25 rounds up, not to the even 6.2
    assert percent(D("150.00"), D("1000.00")) == D("15.0")


def test_percent_without_a_part_or_a_whole_is_none():
    assert percent(1, 0) is None
    assert percent(0, 0) is None
    assert percent(None, 10) is None
    assert percent(1, None) is None
    assert percent(0, 10) == D("0.0")  # nothing of something is a real 0 %


def test_chart_numbers_are_exact_strings_and_gaps_stay_null():
    assert chart_number(D("0.30")) == "0.30"
    assert chart_number(D("1234567.89")) == "1234567.89"
    assert chart_number(7) == "7"
    assert chart_number(None) is None
