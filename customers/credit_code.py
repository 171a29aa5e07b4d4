"""The unified social credit code (统一社会信用代码), GB 32100-2015.

Eighteen characters from a 31-character alphabet (digits and capitals without I, O, Z, S, V).
The last one is a check character: 31 - (Σ value(c_i) × w_i mod 31), where w_i = 3^i mod 31,
and 31 itself is written as 0.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (which must be valid)."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(value: str) -> str:
    """What a person means when they type a code: no spaces, capital letters."""
    return "".join(str(value).split()).upper()


def validate_credit_code(value: str) -> None:
    """Raise ValidationError with a message that says what exactly is wrong."""
    if len(value) != LENGTH:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(n)d."),
            code="length",
            params={"n": len(value)},
        )
    if value != value.upper():
        raise ValidationError(_("Write the credit code in capital letters."), code="lowercase")
    bad = sorted({c for c in value if c not in _VALUE})
    if bad:
        raise ValidationError(
            _("The credit code may not contain %(chars)s (letters I, O, S, V and Z are never used)."),
            code="characters",
            params={"chars": ", ".join(bad)},
        )
    expected = check_character(value[:17])
    if value[17] != expected:
        raise ValidationError(
            _(
                "The check digit (last character) is wrong: for this code it must be %(expected)s. "
                "Please check the code for a typing error."
            ),
            code="check_digit",
            params={"expected": expected},
        )


def make_credit_code(body: str) -> str:
    """Append the check character to a 17-character body (for demo data and tests)."""
    return body + check_character(body)
