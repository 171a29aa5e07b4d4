"""Reading uploaded CSV and XLSX files into rows of cells, and turning cells into values.

Nothing here knows about customers or users. A cell parser gets what the file holds (text from a
CSV; text, numbers or dates from an XLSX) and returns a Python value, or raises CellError with a
message a person can act on. Money never passes through float arithmetic: text is read as
Decimal, and an XLSX number (which *is* a binary double) is taken by its shortest decimal form.
"""

import codecs
import csv
import io
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from crm.spreadsheet_limits import Limits, SpreadsheetTooLarge, check_xlsx, csv_records
from crm.validators import control_character, control_character_message
from customers.credit_code import normalize_credit_code, validate_credit_code

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
CENT = Decimal("0.01")
MAX_INFLATED_BYTES = 200 * 1024 * 1024
# What a file may unfold into, checked while it is still compressed (crm.spreadsheet_limits).
# The widest import has under 30 columns; room is left for columns a person keeps beside them.
# An accepted file of MAX_ROWS rows at the caps costs the worker some tens of MB.
LIMITS = Limits(
    rows=MAX_ROWS * 5 // 2,  # blank rows between data rows are skipped, not counted in MAX_ROWS
    columns=200,
    cells=MAX_ROWS * 30,
    characters=20_000_000,
)
MONEY_LIMIT = Decimal(10) ** 16  # DecimalField(max_digits=18, decimal_places=2)

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 binary .xls format


class FileRejected(Exception):
    """The file as a whole cannot be used (too big, unreadable, columns missing)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CellError(ValueError):
    """One cell holds something that cannot be used; the message says why."""


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells); the header is row 1


# --- Files -------------------------------------------------------------------------------------
def read_table(data: bytes) -> Table:
    """The rows of a CSV or XLSX file, recognised by content rather than by file name."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise FileRejected(too_big_message())
    if data.startswith(_OLE2_MAGIC):
        raise FileRejected(_("This is an old Excel (.xls) file. Save it as .xlsx or CSV and upload it again."))
    rows = _xlsx_rows(data) if data.startswith(_ZIP_MAGIC) else _csv_rows(data)
    try:
        return _table(rows)
    except SpreadsheetTooLarge as exc:
        raise FileRejected(exc.message) from None


def too_big_message() -> str:
    return _("The file is larger than %(mb)d MB. Split it into smaller files.") % {
        "mb": MAX_UPLOAD_BYTES // (1024 * 1024)
    }


def _table(rows) -> Table:
    headers = None
    body: list[tuple[int, list[Any]]] = []
    for number, cells in enumerate(rows, start=1):
        if headers is None:
            if is_blank_row(cells):
                raise FileRejected(_("The first row must hold the column names."))
            headers = [display(c) for c in cells]
            continue
        if is_blank_row(cells):
            continue  # blank lines (often trailing ones) are not rows
        if len(body) >= MAX_ROWS:
            raise FileRejected(
                _("The file has more than %(max)s rows. Split it into smaller files.") % {"max": f"{MAX_ROWS:,}"}
            )
        body.append((number, list(cells)))
    if headers is None:
        raise FileRejected(_("The file is empty."))
    if not body:
        raise FileRejected(_("The file has column names but no rows below them."))
    return Table(headers=headers, rows=body)


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")  # Excel's "Unicode text" export
    try:
        return data.decode("utf-8-sig")  # with or without the BOM Excel writes
    except UnicodeDecodeError:
        pass
    try:
        # Excel on a Chinese Windows saves "CSV" in the ANSI code page, i.e. GBK (⊂ GB18030).
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileRejected(
            _("The file could not be read as text. Save it as “CSV UTF-8” or as .xlsx and upload it again.")
        ) from None


def _csv_rows(data: bytes):
    text = _decode(data)
    if "\x00" in text:
        raise FileRejected(_("This does not look like a CSV file. Upload a .csv or .xlsx file."))
    first_line = text[: LIMITS.record_characters + 1].split("\n", 1)[0]
    # Excel writes ";" where the decimal mark is a comma and tabs for "Unicode text".
    delimiter = max([",", ";", "\t"], key=first_line.count) if first_line else ","
    try:
        yield from csv_records(text, delimiter, LIMITS)
    except csv.Error as exc:
        raise FileRejected(_("The CSV file is malformed: %(error)s") % {"error": exc}) from exc


def _xlsx_rows(data: bytes):
    import openpyxl  # only when needed: it is a large import

    try:
        # A zip bomb is a few MB that inflate to gigabytes of XML. zipfile never inflates a
        # member beyond the size the archive declares, so checking the declared sizes suffices.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
            if inflated > MAX_INFLATED_BYTES:
                raise FileRejected(too_big_message())
            # The declared size does not say what the XML unfolds into: a 124 KB file can hold
            # a row of four million cells. Count before any reader builds a single one.
            check_xlsx(archive, LIMITS)
    except zipfile.BadZipFile as exc:
        raise FileRejected(_("The XLSX file could not be opened. Is it a valid Excel workbook?")) from exc
    except SpreadsheetTooLarge as exc:
        raise FileRejected(exc.message) from None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) for a broken file
        raise FileRejected(_("The XLSX file could not be opened. Is it a valid Excel workbook?")) from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record a wrong size; read what is there
        yield from sheet.iter_rows(values_only=True)
    except FileRejected:
        raise
    except Exception as exc:
        raise FileRejected(_("The XLSX file could not be read. Is it a valid Excel workbook?")) from exc
    finally:
        workbook.close()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_blank_row(cells) -> bool:
    return all(is_blank(c) for c in cells)


def display(value: Any) -> str:
    """A cell as the person sees it in their spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else str(value)
    return str(value).strip()


def normalize_header(text: str) -> str:
    """Header names compare without case, spaces, underscores or hyphens, and with full-width
    brackets as ASCII ones. Units in brackets are *not* dropped: "注册资本（万元）" must not
    match "注册资本（元）", or amounts would be read ten thousand times too small."""
    text = str(text).translate({0xFF08: "(", 0xFF09: ")"})
    return re.sub(r"[\s_\-]+", "", text).casefold()


# --- Cells -------------------------------------------------------------------------------------
def text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = display(value)
        if len(result) > max_length:
            raise CellError(
                _("At most %(max)d characters are allowed; this has %(n)d.") % {"max": max_length, "n": len(result)}
            )
        found = control_character(result)  # a line break in a cell (Alt+Enter in Excel) included
        if found is not None:
            raise CellError(control_character_message(*found))
        return result

    return parse


def credit_code(value: Any) -> str:
    code = normalize_credit_code(display(value))
    try:
        validate_credit_code(code)
    except ValidationError as exc:
        raise CellError(" ".join(exc.messages)) from None
    return code


_AMOUNT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def money(value: Any, *, negative_ok: bool = False) -> Decimal:
    """An amount in yuan with at most two decimals; "1,234.50", "¥1234.5" and 1234.5 all work."""
    if isinstance(value, bool):
        raise CellError(_("Enter an amount, e.g. 1,234.50."))
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(_("Enter an amount, e.g. 1,234.50."))
        # An XLSX number is a binary double: 0.1 + 0.2 is stored as 0.30000000000000004. Its
        # shortest decimal form rounded to the cent is what the spreadsheet showed.
        amount = Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        raw = display(value)
        cleaned = re.sub(r"[\s¥￥]|^(?:CNY|RMB)", "", raw.replace("，", ","), flags=re.IGNORECASE)
        if not _AMOUNT.fullmatch(cleaned):
            raise CellError(_("“%(value)s” is not an amount. Write it like 1234.50 or 1,234.50.") % {"value": raw})
        try:
            amount = Decimal(cleaned.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            raise CellError(_("Enter an amount, e.g. 1,234.50.")) from None
        if amount.as_tuple().exponent < -2:
            raise CellError(_("An amount has at most two decimal places (fen)."))
    if amount < 0 and not negative_ok:
        raise CellError(_("This amount cannot be negative."))
    if abs(amount) >= MONEY_LIMIT:
        raise CellError(_("This amount is too large."))
    return amount.quantize(CENT)


def signed_money(value: Any) -> Decimal:
    return money(value, negative_ok=True)


def count(value: Any) -> int:
    """A whole number of times, 0 or more."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise CellError(_("“%(value)s” is not a whole number.") % {"value": display(value)})
    if number < 0:
        raise CellError(_("This number cannot be negative."))
    if number > 2**31 - 1:
        raise CellError(_("This number is too large."))
    return number


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_EXCEL_LAST_SERIAL = 2958465  # 9999-12-31


def day(value: Any) -> date:
    """A date as YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年MM月DD日 or an Excel date cell."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A date typed into a cell formatted as a number arrives as Excel's serial day number.
        if 1 <= value <= _EXCEL_LAST_SERIAL:
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date()
    else:
        raw = re.sub(r"[ T]00:00(?::00)?$", "", display(value))
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(raw, fmt).date()
            except ValueError:
                continue
    message = _("“%(value)s” is not a date. Write it as YYYY-MM-DD, e.g. 2025-12-31.")
    raise CellError(message % {"value": display(value)})


_TRUE = {"yes", "y", "true", "t", "1", "x", "是", "有", "√"}
_FALSE = {"no", "n", "false", "f", "0", "否", "无", "没有"}


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = display(value).casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellError(_("“%(value)s” is neither yes nor no.") % {"value": display(value)})


def choice(choices: type[models.Choices], synonyms: dict[str, str] | None = None) -> Callable[[Any], str]:
    """One of the choices, written as its stored value or as its label in English or Chinese
    (the labels an export in either language carries)."""

    cache: dict[str, dict[str, str]] = {}

    def lookup() -> dict[str, str]:
        language = translation.get_language() or "en"
        if language in cache:
            return cache[language]
        names = {normalize_header(k): v for k, v in (synonyms or {}).items()}
        for language in ("en", "zh-hans", translation.get_language() or "en"):
            with translation.override(language):
                names.update({normalize_header(str(label)): value for value, label in choices.choices})
        names.update({normalize_header(value): value for value in choices.values})
        cache[language] = names
        return names

    def parse(value: Any) -> str:
        found = lookup().get(normalize_header(display(value)))
        if found is None:
            raise CellError(
                _("“%(value)s” is not a valid choice. Use one of: %(choices)s.")
                % {"value": display(value), "choices": ", ".join(str(label) for label in choices.labels)}
            )
        return found

    return parse
