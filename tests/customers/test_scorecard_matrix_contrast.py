"""The publish preview's "changes tier" cells are readable: WCAG contrast ≥ 4.5:1 in the admin's
light and dark themes, the colours resolved from the admin's own CSS variables."""

import re
from pathlib import Path

import django
import pytest
from django.conf import settings

ADMIN_CSS = Path(django.__file__).parent / "contrib/admin/static/admin/css"
OURS = Path(settings.BASE_DIR) / "static/css/admin_extra.css"


def variables(css: str) -> dict[str, str]:
    """The first definition of each --variable in a stylesheet."""
    found: dict[str, str] = {}
    for name, value in re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", css):
        found.setdefault(name, value.strip())
    return found


def rule(selector: str, prop: str) -> str:
    css = OURS.read_text()
    block = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert block, f"no rule for {selector}"
    value = re.search(rf"(?:^|;)\s*{prop}\s*:\s*([^;]+);", block.group(1))
    assert value, f"{selector} sets no {prop}"
    return value.group(1).strip()


def resolve(value: str, theme: dict[str, str]) -> str:
    if m := re.fullmatch(r"var\((--[\w-]+)(?:,\s*([^)]+))?\)", value):
        return resolve(theme.get(m.group(1), m.group(2) or ""), theme)
    return value


def luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    channels = [int(hex_[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


LIGHT = variables((ADMIN_CSS / "base.css").read_text())
DARK = {**LIGHT, **variables((ADMIN_CSS / "dark_mode.css").read_text())}


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_the_count_of_customers_changing_tier_is_readable(theme):
    background = resolve(rule(".migration-matrix td.move", "background"), theme)
    text = resolve(rule(".migration-matrix td.move .count", "color"), theme)
    assert contrast(text, background) >= 4.5


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_the_exposure_under_it_is_readable_too(theme):
    background = resolve(rule(".migration-matrix td.move", "background"), theme)
    text = resolve(rule(".migration-matrix td .exposure", "color"), theme)
    assert contrast(text, background) >= 4.5
