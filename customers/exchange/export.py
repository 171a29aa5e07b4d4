"""The customer list as CSV or XLSX (written by crm.spreadsheets).

Rows are read with ``.iterator(chunk_size=…)`` (a server-side cursor on PostgreSQL), so
exporting 100k customers keeps memory flat. Headers and choice labels are in the user's
language and match the import's column names, so an export can be edited and imported again.
"""

from collections.abc import Iterator

from django.http import HttpResponse
from django.utils.translation import gettext as _

from crm import spreadsheets
from customers.choices import CustomerStatus, Industry, IndustryPosition, Tier
from customers.exchange.kinds import CUSTOMERS
from customers.models import Customer

CHUNK_SIZE = 2000
WIDTHS = (40, 22, 28, 20, 16, 10, 12, 10, 8, 20, 18, 14, 12)


def _columns() -> list[spreadsheets.Column]:
    # Labels resolved once per export, not once per row.
    industries = {k: str(v) for k, v in Industry.choices}
    positions = {k: str(v) for k, v in IndustryPosition.choices}
    statuses = {k: str(v) for k, v in CustomerStatus.choices}
    tiers = {k: str(v) for k, v in Tier.choices}
    label = {c.field: str(c.label) for c in CUSTOMERS.columns}
    return [
        (label["name"], lambda c: c.name),
        (label["credit_code"], lambda c: c.credit_code),
        (label["industry"], lambda c: industries.get(c.industry, c.industry)),
        (label["registered_capital"], lambda c: c.registered_capital),
        (label["industry_position"], lambda c: positions.get(c.industry_position, c.industry_position)),
        (label["credit_rating"], lambda c: c.credit_rating),
        (label["status"], lambda c: statuses.get(c.status, c.status)),
        (_("Tier"), lambda c: tiers.get(c.tier, c.tier)),
        (_("Score"), lambda c: c.score),
        (_("Credit limit (CNY)"), lambda c: c.credit_limit),
        (label["owner"], lambda c: c.owner.username),
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
