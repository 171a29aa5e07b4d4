import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.validators import (
    SingleLineCharField,
    no_control_characters,
    no_control_characters_multiline,
    refuse_control_characters,
)


@pytest.mark.parametrize(
    "value",
    ["Acme\r\nBcc: x@example.com", "tab\there", "nul\x00", "del\x7f", "c1\x85", "ls\u2028", "ps\u2029", "esc\x1b[31m"],
)
def test_single_line_text_refuses_control_characters(value):
    with pytest.raises(ValidationError) as refused:
        no_control_characters(value)
    assert refused.value.code == "control_character"


@pytest.mark.parametrize(
    "value", ["宁波港口扩建项目有限公司", "Acme (Shanghai) Co., Ltd.", "（全角）１２３", "O'Brien & Söhne", ""]
)
def test_single_line_text_accepts_ordinary_names(value):
    no_control_characters(value)


def test_multi_line_text_keeps_line_breaks_and_tabs_but_not_other_controls():
    no_control_characters_multiline("first line\r\nsecond\tcolumn\nthird")
    with pytest.raises(ValidationError):
        no_control_characters_multiline("bell\x07")


def test_the_error_names_the_character_and_its_position_in_the_users_language():
    with pytest.raises(ValidationError) as refused:
        no_control_characters("ab\rc")
    assert "U+000D" in refused.value.messages[0] and "position 3" in refused.value.messages[0]
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        no_control_characters("ab\rc")
    assert "第 3 个字符" in refused.value.messages[0]


class _Form(forms.Form):
    name = forms.CharField()
    note = forms.CharField(widget=forms.Textarea)
    kind = forms.ChoiceField(choices=[("a", "A")])
    code = SingleLineCharField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters(self)


def test_the_form_helper_guards_text_inputs_as_one_line_and_textareas_as_several():
    form = _Form({"name": "a\nb", "note": "a\nb", "kind": "a", "code": "x\u2028y"})
    assert not form.is_valid()
    assert set(form.errors) == {"name", "code"}
