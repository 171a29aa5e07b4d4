"""Lists as CSV or XLSX downloads, for every export of the project.

An export is a list of columns (header, function of a row) and an iterator of rows. Rows are
written as they arrive and never held all at once: the CSV is streamed to the client, the XLSX
is written by openpyxl's write-only mode to a temporary file that is then streamed. Headers
must be resolved by the caller before it calls ``download``: a streamed body is produced after
the view returns, when the user's language is no longer active.
"""

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import IO, Any

from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A cell starting with one of these is a formula to Excel and LibreOffice: a company called
# "=HYPERLINK(…)" must stay text ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, Callable[[Any], Any]]


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


def csv_lines(columns: Sequence[Column], rows: Iterable[Any]) -> Iterator[str]:
    """CSV lines, UTF-8 with a BOM so that Excel shows Chinese correctly."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([header for header, _value in columns])
    for row in rows:
        yield writer.writerow([_csv_text(value(row)) for _header, value in columns])


def xlsx_file(columns: Sequence[Column], rows: Iterable[Any], *, title: str, widths: Sequence[int]) -> IO[bytes]:
    """An XLSX workbook in a temporary file, positioned at its start: money as number cells,
    dates as date cells, text that looks like a formula kept as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
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
    for row in rows:
        sheet.append([cell(value(row)) for _header, value in columns])
    target = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the FileResponse that streams it
    workbook.save(target)
    target.seek(0)
    return target


def download(
    fmt: str, columns: Sequence[Column], rows: Iterable[Any], *, name: str, title: str, widths: Sequence[int]
) -> HttpResponseBase:
    """The attachment ``<name>-<local date>.<fmt>`` for ``fmt`` "csv" or "xlsx"."""
    filename = f"{name}-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "xlsx":
        return FileResponse(
            xlsx_file(columns, rows, title=title, widths=widths),
            as_attachment=True,
            filename=filename,
            content_type=XLSX_TYPE,
        )
    response = StreamingHttpResponse(csv_lines(columns, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
