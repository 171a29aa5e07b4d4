"""Panels: how a higher app adds a section to a lower app's page without the lower app
importing it. The customer page (customers) and the deal page (funnel) show a facilities
section that belongs to risk, which they may not import; risk registers a provider for each page
in its ``AppConfig.ready()`` and the pages render whatever is registered.

A provider is ``provider(request, obj) -> Panel | None`` (None: nothing to show for this object
or this user). It does its own access check and its own queries — keep them to a fixed number
whatever the object holds. Slots are named after the page: ``CUSTOMER_PAGE``, ``DEAL_PAGE``."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

CUSTOMER_PAGE = "customer_page"
DEAL_PAGE = "deal_page"


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


Provider = Callable[[HttpRequest, Any], Panel | None]
_providers: dict[str, list[Provider]] = {}


def register(slot: str, provider: Provider) -> None:
    """Add ``provider`` to ``slot``; registering the same one again changes nothing (ready() may
    run more than once, e.g. in tests)."""
    providers = _providers.setdefault(slot, [])
    if provider not in providers:
        providers.append(provider)


def unregister(slot: str, provider: Provider) -> None:
    if provider in _providers.get(slot, []):
        _providers[slot].remove(provider)


def render_panels(slot: str, request: HttpRequest, obj: Any) -> list[SafeString]:
    """Each registered provider's panel for ``obj``, rendered in registration order."""
    rendered = []
    for provider in _providers.get(slot, []):
        panel = provider(request, obj)
        if panel is not None:
            # A rendered template is already a SafeString: its variables were escaped.
            rendered.append(render_to_string(panel.template, panel.context, request=request))
    return rendered
