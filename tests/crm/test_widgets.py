"""crm.widgets.fast_select writes exactly the HTML Django's select templates write."""

import pytest
from django import forms

from crm.widgets import FastSelect, fast_select


class Filters(forms.Form):
    owner = forms.ChoiceField(
        choices=[("", "All"), ("u1", "Wang <Wei> & co"), ("u2", 'Li "Na"'), ("u3", "张伟")], required=False
    )
    region = forms.ChoiceField(
        choices=[("", "---"), ("North", [("bj", "Beijing"), ("tj", "Tianjin")]), ("South", [("gz", "Guangzhou")])]
    )
    amount = forms.IntegerField(required=False)


@pytest.mark.parametrize(
    "data",
    [{}, {"owner": "u2", "region": "gz"}, {"owner": "nobody", "region": ""}, {"owner": "u3", "region": "bj"}],
)
@pytest.mark.parametrize(
    "attrs",
    [{"class": "form-select form-select-sm"}, {"class": "x", "disabled": True, "hidden": False, "data-a": "<b>"}],
)
def test_the_html_is_the_templates_html(data, attrs):
    form = Filters(data or None)
    for name in ("owner", "region"):
        field = form[name]
        expected = field.as_widget(attrs=dict(attrs))
        fast = field.as_widget(widget=fast_select(field.field.widget), attrs=dict(attrs))
        assert fast == expected
        assert "<b>" not in fast and "Wang <Wei>" not in fast  # escaped as the templates escape


def test_only_a_plain_select_gets_the_fast_twin_and_the_original_is_untouched():
    form = Filters()
    select = form.fields["owner"].widget
    twin = fast_select(select)
    assert type(twin) is FastSelect and twin.choices == select.choices and type(select) is forms.Select
    assert fast_select(form.fields["amount"].widget) is form.fields["amount"].widget
    multiple = forms.SelectMultiple(choices=[("a", "A")])
    assert fast_select(multiple) is multiple
