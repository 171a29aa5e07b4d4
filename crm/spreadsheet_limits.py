"""Hard caps on what an uploaded spreadsheet may unfold into, checked before it is read.

A 124 KB XLSX can hold a row of four million cells, a table of eight million strings or ten
million nested elements: XLSX parts are deflated XML, and XML repeats well. Every reader we
measured (openpyxl, also in read-only mode, and python-calamine) builds a whole row, the whole
shared-strings table or the whole sheet before the caller sees the first value, so a cap
checked on what the reader returns comes too late: the worker has already grown by gigabytes.

``check_xlsx`` therefore walks every XML part of the archive once with a streaming expat
parser that keeps nothing but counters, and refuses the file at the first element past a cap:
rows (blank ones included, since a reader pads the gaps), the column a cell sits in, cells,
shared strings, characters in one cell and in all, elements per cell, nesting depth, and
elements of the other parts (styles, relationships …). Only a file that passes is handed to the
real reader. ``csv_records`` reads CSV text with the same caps on records and fields, never
taking more than one record's worth of text off the stream at a time.

Nothing here knows what is being imported; messages are translated when raised.
"""

import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from django.utils.translation import gettext as _

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    rows: int  # rows of a sheet or records of a CSV, blank ones included
    columns: int  # the column a cell may sit in; fields of a CSV record
    cells: int  # cells of a sheet; entries of the shared-strings table
    characters: int  # characters of text in all cells and shared strings together
    cell_characters: int = 32_767  # Excel's own limit for one cell
    record_characters: int = 131_072  # one CSV record (the csv module's own field limit)
    cell_elements: int = 256  # XML elements inside one cell (rich-text runs and their fonts)
    other_elements: int = 100_000  # elements of a part that is not cells or strings (styles …)
    depth: int = 40  # a real workbook nests about a dozen levels deep


class SpreadsheetTooLarge(Exception):
    """The file unfolds beyond a cap; ``message`` says which, in the user's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _column_letters(limit: int) -> int:
    """How many letters the reference of column ``limit`` has (200 → "GR" → 2)."""
    letters = 0
    while limit > 0:
        limit = (limit - 1) // 26
        letters += 1
    return letters


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def _scan(parser: expat.XMLParserType, limits: Limits, totals: dict[str, int], strings_cap: int) -> None:
    """Install handlers on ``parser`` that count one XML part and raise at the first element
    past a cap. Closures over local counters rather than a class: a sheet at the caps has
    about three million elements, and attribute look-ups on every one cost seconds."""
    depth = 0
    kind = ""  # "worksheet", "sst" (shared strings) or "" for any other part
    elements = rows = cells = row_cells = strings = 0
    item_depth = item_elements = item_characters = 0  # the open cell (<c>) or string (<si>)
    letters_at_limit = _column_letters(limits.columns)

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, kind, elements, rows, cells, row_cells, strings, item_depth, item_elements, item_characters
        depth += 1
        if item_depth:
            item_elements += 1
            if item_elements > limits.cell_elements:
                raise SpreadsheetTooLarge(_unreadable())
            return
        if depth > limits.depth:
            raise SpreadsheetTooLarge(_unreadable())
        local = name.rpartition(":")[2]
        if depth == 1:
            kind = local if local in ("worksheet", "sst") else ""
        if kind == "worksheet" and local == "c":
            cells += 1
            row_cells += 1
            reference = attributes.get("r", "")
            letters = reference.rstrip("0123456789")
            if (
                row_cells > limits.columns
                or len(letters) > letters_at_limit
                or (len(letters) == letters_at_limit and _column_number(letters) > limits.columns)
            ):
                raise SpreadsheetTooLarge(_too_many_columns(rows, limits))
            if cells > limits.cells:
                raise SpreadsheetTooLarge(_too_many_cells(limits))
            totals["cells"] += 1
            item_depth, item_elements, item_characters = depth, 0, 0
        elif kind == "worksheet" and local == "row":
            rows += 1
            row_cells = 0
            number = attributes.get("r", "")
            if rows > limits.rows or (number.isdigit() and int(number) > limits.rows):
                raise SpreadsheetTooLarge(_too_many_rows(limits))
        elif kind == "sst" and local == "si":
            strings += 1
            if strings > strings_cap:
                raise SpreadsheetTooLarge(_too_many_strings(strings_cap))
            item_depth, item_elements, item_characters = depth, 0, 0
        else:
            elements += 1
            if elements > limits.other_elements:
                raise SpreadsheetTooLarge(_too_many_elements())

    def end(_name: str) -> None:
        nonlocal depth, item_depth
        if depth == item_depth:
            item_depth = 0
        depth -= 1

    def text(data: str) -> None:
        nonlocal item_characters
        if not item_depth:
            return  # whitespace between elements, or text no reader turns into a value
        item_characters += len(data)
        if item_characters > limits.cell_characters:
            raise SpreadsheetTooLarge(
                _("A cell holds more than %(max)s characters.") % {"max": f"{limits.cell_characters:,}"}
            )
        totals["characters"] += len(data)
        if totals["characters"] > limits.characters:
            raise SpreadsheetTooLarge(
                _("The file holds more than %(max)s characters of text. Split it into smaller files.")
                % {"max": f"{limits.characters:,}"}
            )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text


def _too_many_rows(limits: Limits) -> str:
    return _("The sheet has more than %(max)s rows, blank ones included. Split it into smaller files.") % {
        "max": f"{limits.rows:,}"
    }


def _too_many_columns(row: int, limits: Limits) -> str:
    return _(
        "Row %(row)s has cells beyond column %(max)s. Delete the columns that are not imported"
        " and upload the file again."
    ) % {"row": f"{row:,}", "max": limits.columns}


def _too_many_strings(cap: int) -> str:
    return _(
        "The file's table of texts holds more than %(max)s entries, far more than its cells use."
        " Open it in Excel or WPS, save it as .xlsx and upload it again."
    ) % {"max": f"{cap:,}"}


def _too_many_elements() -> str:
    return _(
        "Parts of the XLSX file other than its cells (styles, charts, names) are too large to read."
        " Copy the sheet into a new workbook and upload that."
    )


def _no_doctype(*_args) -> None:
    # A workbook never declares a DTD; one is how entity-expansion bombs start.
    raise SpreadsheetTooLarge(_unreadable())


def _too_many_cells(limits: Limits) -> str:
    return _("The file has more than %(max)s cells. Split it into smaller files.") % {"max": f"{limits.cells:,}"}


def _unreadable() -> str:
    return _(
        "The XLSX file is built in a way no spreadsheet program writes, so it is not read. Open it in Excel"
        " or WPS, save it as .xlsx and upload it again."
    )


def check_xlsx(archive: zipfile.ZipFile, limits: Limits) -> None:
    """Raise ``SpreadsheetTooLarge`` unless every XML part of ``archive`` stays within ``limits``.
    Memory stays that of a few counters and one 64 KB chunk, whatever the parts hold; the parse
    stops at the first element past a cap. Malformed XML is left for the reader to report.
    A file that passes unfolds into at most ``limits`` in the reader, whatever its declared sizes."""
    totals = {"characters": 0, "cells": 0}
    members = [m for m in archive.infolist() if m.filename.endswith((".xml", ".rels"))]
    # Images, printer settings, VBA, legacy VML drawings are never parsed by the reader.
    # Sheets go first: every writer names them xl/worksheets/…, and a shared string is there
    # to be used by a cell, so once the cells are counted the strings table may hold only as
    # many (plus slack for strings a writer keeps after their cell is cleared). Unusually named
    # sheets leave the table the plain cap on cells.
    members.sort(key=lambda member: "/worksheets/" not in "/" + member.filename)
    sheets_first = bool(members) and "/worksheets/" in "/" + members[0].filename
    for member in members:
        strings_cap = min(limits.cells, totals["cells"] + 10_000) if sheets_first else limits.cells
        parser = expat.ParserCreate()
        parser.buffer_text = True  # one call per run of text, not one per line or entity
        _scan(parser, limits, totals, strings_cap)
        parser.StartDoctypeDeclHandler = _no_doctype
        parser.EntityDeclHandler = _no_doctype
        try:
            with archive.open(member) as part:
                while chunk := part.read(_CHUNK):
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
        except (expat.ExpatError, zipfile.BadZipFile, EOFError, NotImplementedError, ValueError):
            # Not well-formed, damaged or encrypted: what came before the fault was counted,
            # and the reader (expat too) stops where this scan stopped. The other parts are
            # still counted: a broken part must not wave a bomb in another one through.
            continue


_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)?")


def csv_records(text: str, delimiter: str, limits: Limits) -> Iterator[list[str]]:
    """The records of CSV ``text``, refusing one longer than ``limits.record_characters``, with
    more fields than ``limits.columns``, or more records than ``limits.rows``. Lines are taken
    off the text with a length limit, so an enormous line is never copied whole."""
    used = 0  # characters of the record being read

    def lines() -> Iterator[str]:
        # What io.StringIO(text, newline="") would hand csv, without its copy of the whole text
        # (four bytes a character) and without ever cutting out more than one record's worth.
        nonlocal used
        position, end = 0, len(text)
        while position < end:
            match = _LINE.match(text, position, min(end, position + limits.record_characters + 1))
            assert match is not None  # the pattern also matches the empty string
            line = match.group()
            position += len(line)
            used += len(line)
            if used > limits.record_characters:
                raise SpreadsheetTooLarge(
                    _("Line %(line)s is longer than %(max)s characters. Is this the right file?")
                    % {"line": f"{reader.line_num + 1:,}", "max": f"{limits.record_characters:,}"}
                )
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        used = 0
        if number > limits.rows:
            raise SpreadsheetTooLarge(
                _("The file has more than %(max)s lines, blank ones included. Split it into smaller files.")
                % {"max": f"{limits.rows:,}"}
            )
        if len(record) > limits.columns:
            raise SpreadsheetTooLarge(
                _(
                    "Line %(line)s has more than %(max)s columns. Delete the columns that are not imported"
                    " and upload the file again."
                )
                % {"line": f"{reader.line_num:,}", "max": limits.columns}
            )
        yield record
