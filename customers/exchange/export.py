"""The customer list as CSV or XLSX (written by crm.spreadsheets).

Rows are read with ``.iterator(chunk_size=…)`` (a server-side cursor on PostgreSQL), so
exporting 100k customers keeps memory flat. Headers and choice labels are in the user's
language and match the import's column names, so an export can be edited and imported again.
The first columns are the fields a person sets (``customers.fields.EDITABLE_FIELDS``), then
what grading and the team add.
"""

import operator
from collections.abc import Iterator

from django.http import HttpResponse
from django.utils.translation import gettext as _

from crm import spreadsheets
from customers.choices import Tier
from customers.exchange.kinds import CUSTOMERS
from customers.fields import EDITABLE_FIELDS
from customers.models import Customer

CHUNK_SIZE = 2000
WIDTHS = (40, 22, 28, 20, 16, 10, 12, 10, 8, 20, 18, 14, 12)


def _shown(name: str) -> spreadsheets.Column:
    """The import's header for an editable field, and its value as the import reads it back:
    a choice by its label in the user's language (resolved once per export, not once per row)."""
    field = Customer._meta.get_field(name)
    label = str(CUSTOMERS.column(name).label)
    if not field.choices:
        return (label, operator.attrgetter(name))
    labels = {value: str(text) for value, text in field.flatchoices}

    def value(customer: Customer):
        raw = getattr(customer, name)
        return labels.get(raw, raw)

    return (label, value)


def _columns() -> list[spreadsheets.Column]:
    tiers = {k: str(v) for k, v in Tier.choices}
    return [
        *(_shown(name) for name in EDITABLE_FIELDS),
        (_("Tier"), lambda c: tiers.get(c.tier, c.tier)),
        (_("Score"), lambda c: c.score),
        (_("Credit limit (CNY)"), lambda c: c.credit_limit),
        (str(CUSTOMERS.column("owner").label), lambda c: c.owner.username),
        (_("Team"), lambda c: c.team.name),
        (_("Next review"), lambda c: c.next_review_date),
    ]


def _customers(queryset) -> Iterator[Customer]:
    return queryset.select_related("owner", "team").iterator(chunk_size=CHUNK_SIZE)


def download(queryset, fmt: str) -> HttpResponse:
    """The customers as a CSV or XLSX attachment; headers resolved now, in the user's language."""
    return spreadsheets.download(
        fmt, _columns(), _customers(queryset), name="customers", title=_("Customers"), widths=WIDTHS
    )
