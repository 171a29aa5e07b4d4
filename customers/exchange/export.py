"""The customer list as CSV or XLSX.

Rows are read with ``.iterator(chunk_size=…)`` (a server-side cursor on PostgreSQL), written as
they arrive and never held all at once, so exporting 100k customers keeps memory flat: the CSV
is streamed to the client, the XLSX is written by openpyxl's write-only mode to a temporary
file that is then streamed. Headers and choice labels are in the user's language and match the
import's column names, so an export can be edited and imported again.
"""

import csv
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any

from django.utils.translation import gettext as _

from customers.choices import CustomerStatus, Industry, IndustryPosition, Tier
from customers.exchange.kinds import CUSTOMERS
from customers.models import Customer

CHUNK_SIZE = 2000
# A cell starting with one of these is a formula to Excel and LibreOffice: a company called
# "=HYPERLINK(…)" must stay text ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _columns() -> list[tuple[str, Callable[[Customer], Any]]]:
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


class _Echo:
    """A file that hands back what is written to it, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"  # plain digits, never 1E+1: read back exactly by any program
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(queryset) -> Iterator[str]:
    """The customers as CSV lines, UTF-8 with a BOM so that Excel shows Chinese correctly."""
    columns = _columns()
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([header for header, _value in columns])
    for customer in _customers(queryset):
        yield writer.writerow([_csv_text(value(customer)) for _header, value in columns])


def xlsx_file(queryset) -> IO[bytes]:
    """The customers as an XLSX workbook in a temporary file, positioned at its start."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    columns = _columns()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(_("Customers")))
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKLM", (40, 22, 28, 20, 16, 10, 12, 10, 8, 20, 18, 14, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    bold = Font(bold=True)

    def cell(value: Any) -> Any:
        if isinstance(value, Decimal):
            written = WriteOnlyCell(sheet, value)
            written.number_format = "#,##0.00"
            return written
        if isinstance(value, date):
            written = WriteOnlyCell(sheet, value)
            written.number_format = "yyyy-mm-dd"
            return written
        if isinstance(value, str) and value.startswith("="):
            written = WriteOnlyCell(sheet, value)
            written.data_type = "s"  # text, not a formula
            return written
        return value

    header_cells = []
    for header, _value in columns:
        written = WriteOnlyCell(sheet, header)
        written.font = bold
        header_cells.append(written)
    sheet.append(header_cells)
    for customer in _customers(queryset):
        sheet.append([cell(value(customer)) for _header, value in columns])
    target = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the FileResponse that streams it
    workbook.save(target)
    target.seek(0)
    return target
