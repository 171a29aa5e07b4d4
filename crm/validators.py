"""Text that may not hold control characters.

A company name with "\r\nBcc: …" in it is saved as typed and later breaks every e-mail header,
CSV line or log line it is put in. Single-line text (names, titles, codes, phone numbers, cells
of an import) refuses every control character: C0 (tab, line feed and carriage return
included), DEL, C1, and the Unicode line and paragraph separators U+2028/U+2029. Multi-line
text (notes, reasons) keeps tab, line feed and carriage return and refuses the rest.
Leading and trailing whitespace is stripped by Django's CharField before validation, so a tab
pasted at the end of a cell from Excel is not an error.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(value: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The position (1-based) and code point ("U+000D") of the first refused character."""
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    if found is None:
        return None
    return found.start() + 1, f"U+{ord(found.group()):04X}"


def control_character_message(position: int, code_point: str) -> str:
    return _(
        "Remove the line break or control character (%(char)s) at position %(position)s: this text must be one line."
    ) % {"char": code_point, "position": position}


@deconstructible
class NoControlCharacters:
    """A validator for ``validators=[…]`` of a form or model field."""

    code = "control_character"

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value) -> None:
        if not isinstance(value, str):
            return
        found = control_character(value, multiline=self.multiline)
        if found is None:
            return
        position, code_point = found
        if self.multiline:
            message = _("Remove the control character (%(char)s) at position %(position)s.") % {
                "char": code_point,
                "position": position,
            }
        else:
            message = control_character_message(position, code_point)
        raise ValidationError(message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoControlCharacters) and other.multiline == self.multiline


no_control_characters = NoControlCharacters()
no_control_characters_multiline = NoControlCharacters(multiline=True)


class SingleLineCharField(forms.CharField):
    """A CharField for a name, title or code: one line of text, no control characters."""

    default_validators = [no_control_characters]


def refuse_control_characters(form: forms.BaseForm) -> None:
    """Give every free-text field of ``form`` the validator that fits its widget: single-line
    for text inputs (including e-mail and URL fields), multi-line for textareas. Call it at the
    end of the form's ``__init__``; choice, number and date fields are left alone."""
    for field in form.fields.values():
        if not isinstance(field, forms.CharField):
            continue
        validator = (
            no_control_characters_multiline if isinstance(field.widget, forms.Textarea) else no_control_characters
        )
        if validator not in field.validators:
            field.validators.append(validator)
