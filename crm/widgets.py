"""A faster rendering of the plain <select>, for the filter bars of the long lists.

Django renders a select through templates, two includes per option: a filter bar whose
relationship-manager choice holds two hundred people spent ~30 ms of a 70 ms customer-list
page in them, more than the page's queries. ``fast_select`` writes the same HTML from the same
widget context in Python (tests/crm/test_widgets.py holds the two to the same output)."""

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(
            f" {conditional_escape(name)}"
            if value is True
            else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        )
    return "".join(parts)


class FastSelect(forms.Select):
    """forms.Select whose HTML is written in Python from the template's own context."""

    def _render(self, template_name, context, renderer=None) -> SafeString:
        widget = context["widget"]
        out = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in options:
                out.append(
                    f'\n  <option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                    f"{conditional_escape(option['label'])}</option>\n"
                )
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def fast_select(widget: forms.Widget) -> forms.Widget:
    """The widget to render: a FastSelect twin of a plain forms.Select (same attributes and
    choices), any other widget as it is."""
    if type(widget) is not forms.Select:
        return widget
    twin = FastSelect.__new__(FastSelect)
    twin.__dict__ = widget.__dict__.copy()
    return twin
