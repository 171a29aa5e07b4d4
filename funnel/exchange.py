"""The deal list as CSV or XLSX.

Rows are read with ``.iterator(chunk_size=…)`` (a server-side cursor on PostgreSQL) and written
as they arrive, so exporting two million deals keeps memory flat: the CSV is streamed to the
client, the XLSX is written by openpyxl's write-only mode to a temporary file that is then
streamed. Money leaves as exact decimals (number cells in XLSX), dates as ISO dates.

Headers and labels are resolved when the export is built, in the request's language: a
streamed body is produced after the view returns, when the active language is no longer
guaranteed to be the user's.
"""

import csv
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Tier
from funnel.models import Deal, DealQuerySet, ProjectType, StageSetting

CHUNK_SIZE = 2000
# Excel's sheet has 1,048,576 rows, one of them the header; a longer file would not open.
XLSX_MAX_ROWS = 1_048_575
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A cell starting with one of these is a formula to Excel and LibreOffice: a deal called
# "=HYPERLINK(…)" must stay text ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, Callable[[Deal], Any]]


def _columns() -> list[Column]:
    # Labels resolved once per export, not once per row (the stage names are admin-edited).
    stages = {s.stage: s.label for s in StageSetting.objects.all()}
    types = {k: str(v) for k, v in ProjectType.choices}
    tiers = {k: str(v) for k, v in Tier.choices}
    return [
        (_("Deal"), lambda d: d.title),
        (_("Customer"), lambda d: d.customer.name),
        (_("Unified social credit code"), lambda d: d.customer.credit_code),
        (_("Tier"), lambda d: tiers.get(d.customer.tier, d.customer.tier)),
        (_("Team"), lambda d: d.customer.team.name),
        (_("Project type"), lambda d: types.get(d.project_type, d.project_type)),
        (_("Stage"), lambda d: stages.get(d.stage, d.stage)),
        (_("Amount (CNY)"), lambda d: d.amount),
        (_("Probability (%)"), lambda d: d.probability),
        (_("Weighted amount (CNY)"), lambda d: d.weighted_amount),
        (_("Relationship manager"), lambda d: d.owner.username),
        (_("Expected close"), lambda d: d.expected_close),
        # Local dates (Asia/Shanghai): the day the user would name, not the UTC one.
        (_("In stage since"), lambda d: timezone.localdate(d.stage_entered_at)),
        (_("Created"), lambda d: timezone.localdate(d.created_at)),
        (_("Deal code"), lambda d: str(d.code)),
    ]


# Column widths of the XLSX sheet, in the order of _columns().
_WIDTHS = (36, 36, 22, 10, 12, 20, 20, 18, 10, 18, 18, 14, 14, 12, 38)


def _deals(queryset: DealQuerySet) -> Iterator[Deal]:
    return queryset.select_related("customer", "customer__team", "owner").iterator(chunk_size=CHUNK_SIZE)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"  # plain digits, never 1E+1: read back exactly by any program
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    """A file that hands back what is written to it, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(queryset: DealQuerySet) -> Iterator[str]:
    """The deals as CSV lines, UTF-8 with a BOM so that Excel shows Chinese correctly."""
    columns = _columns()  # now, in the request's language; the lines follow lazily
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([header for header, _value in columns])
        for deal in _deals(queryset):
            yield writer.writerow([_csv_text(value(deal)) for _header, value in columns])

    return lines()


def too_many_for_xlsx(queryset: DealQuerySet) -> bool:
    # Bounded: counts at most one row past the limit, never the whole table.
    return queryset.order_by()[: XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS


def xlsx_file(queryset: DealQuerySet) -> IO[bytes]:
    """The deals as an XLSX workbook in a temporary file, positioned at its start."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = _columns()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Deals"))
    sheet.freeze_panes = "A2"
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
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
    for deal in _deals(queryset):
        sheet.append([cell(value(deal)) for _header, value in columns])
    target = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the FileResponse that streams it
    workbook.save(target)
    target.seek(0)
    return target
