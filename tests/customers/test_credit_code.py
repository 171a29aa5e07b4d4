import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from customers.credit_code import (
    ALPHABET,
    check_character,
    make_credit_code,
    normalize_credit_code,
    validate_credit_code,
)

# Published codes of real registrations (GB 32100-2015 examples used in public documentation).
KNOWN_VALID = ["91350100M000100Y43", "91110000802100433B", "91310000MA1FL5LX3K"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_it_accepts_valid_codes(code):
    validate_credit_code(code)


def test_it_rejects_a_wrong_check_digit_and_names_the_right_one():
    with pytest.raises(ValidationError) as info:
        validate_credit_code("91350100M000100Y44")
    assert info.value.code == "check_digit"
    assert "3" in info.value.messages[0]


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100Y433", ""])
def test_it_rejects_the_wrong_length(code):
    with pytest.raises(ValidationError) as info:
        validate_credit_code(code)
    assert info.value.code == "length"
    assert str(len(code)) in info.value.messages[0]


def test_it_rejects_lowercase_but_normalize_fixes_it():
    with pytest.raises(ValidationError) as info:
        validate_credit_code("91350100m000100y43")
    assert info.value.code == "lowercase"
    assert normalize_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"
    validate_credit_code(normalize_credit_code("91350100m000100y43"))


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_it_rejects_letters_the_standard_never_uses(letter):
    code = "9135010" + letter + "M000100Y43"
    with pytest.raises(ValidationError) as info:
        validate_credit_code(code)
    assert info.value.code == "characters"
    assert letter in info.value.messages[0]


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_every_generated_code_validates_and_any_single_change_is_caught(body):
    code = make_credit_code(body)
    validate_credit_code(code)
    # Changing the check character always breaks the code.
    wrong = ALPHABET[(ALPHABET.index(code[-1]) + 1) % 31]
    with pytest.raises(ValidationError):
        validate_credit_code(code[:-1] + wrong)


def test_check_character_of_31_is_written_as_zero():
    # Find a body whose weighted sum is a multiple of 31: its check value is 31 → "0".
    body = "00000000000000000"
    assert check_character(body) == "0"
