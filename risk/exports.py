"""The facility list as CSV or XLSX (written by crm.spreadsheets), like the deal list's export
(funnel.exchange): rows streamed in chunks, money as exact decimals, dates as local dates,
headers in the user's language. The facility code is a column, so the file doubles as the list
of codes a repayment import names."""

from collections.abc import Iterator
from decimal import Decimal

from django.http import HttpResponse
from django.utils.translation import gettext as _

from crm import spreadsheets
from customers.models import Tier
from risk.models import Facility

CHUNK_SIZE = 2000
CENT = Decimal("0.01")


def _columns() -> list[spreadsheets.Column]:
    tiers = {k: str(v) for k, v in Tier.choices}  # resolved once per export, not once per row
    return [
        (_("Facility code"), lambda f: str(f.code)),
        (_("Customer"), lambda f: f.customer.name),
        (_("Unified social credit code"), lambda f: f.customer.credit_code),
        (_("Tier"), lambda f: tiers.get(f.customer.tier, f.customer.tier)),
        (_("Team"), lambda f: f.customer.team.name),
        (_("Relationship manager"), lambda f: f.customer.owner.username),
        (_("Originating deal"), lambda f: f.deal.title),
        (_("Granted limit (CNY)"), lambda f: f.granted_limit),
        (_("Limit (CNY)"), lambda f: f.limit),
        (_("Drawn (CNY)"), lambda f: f.drawn),
        (_("Outstanding (CNY)"), lambda f: f.outstanding),
        (_("Start date"), lambda f: f.start_date),
        (_("Maturity date"), lambda f: f.maturity_date),
        # Computed in SQL: SQLite hands it back without its two decimals.
        (_("Overdue (CNY)"), lambda f: Decimal(f.amount_overdue).quantize(CENT)),
        (_("Days overdue"), lambda f: f.days_overdue),
    ]


# Column widths of the XLSX sheet, in the order of _columns().
WIDTHS = (38, 36, 22, 10, 12, 18, 36, 18, 18, 18, 18, 12, 12, 16, 12)


def _rows(queryset) -> Iterator[Facility]:
    return queryset.iterator(chunk_size=CHUNK_SIZE)


def download(queryset, fmt: str) -> HttpResponse:
    """``queryset`` from ``risk.selectors.facility_pages.for_list`` (overdue figures annotated)."""
    return spreadsheets.download(
        fmt, _columns(), _rows(queryset), name="facilities", title=_("Facilities"), widths=WIDTHS
    )
