"""Hostile import files (issue #11): small uploads that unfold into millions of cells, rows,
strings or nested elements are refused quickly, with a message, and without the worker growing.

Each bomb is read by the real reader (``cells.read_table``) in a fresh Python process, because
``ru_maxrss`` is a high-water mark: inside pytest, already larger than a bomb's growth, it would
not move. The sizes below are smaller than the issue's (to keep the suite fast) but each is still
far past every cap; the old reader grew by well over 40 MB on each XLSX one (bench/import_bombs.py
gives the full-size numbers).
"""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from bench import import_bombs
from crm.spreadsheet_limits import Limits, SpreadsheetTooLarge, check_xlsx, csv_records
from customers.exchange import cells

MAX_GROWTH_MB = 40
MAX_SECONDS = 2.0


@pytest.mark.parametrize(
    ("bomb", "size", "message"),
    [
        ("wide_row", {"cells": 300_000}, "Row 1 has cells beyond column 200"),
        ("blank_rows", {"megabytes": 5}, "more than 50,000 rows, blank ones included"),
        ("huge_shared_strings", {"strings": 300_000}, "table of texts holds more than 10,002 entries"),
        ("deep_nesting", {"depth": 300_000}, "built in a way no spreadsheet program writes"),
        ("csv_long_line", {"characters": 1_000_000}, "Line 2 is longer than 131,072 characters"),
        ("csv_many_fields", {}, "Line 2 has more than 200 columns"),
    ],
)
def test_bomb_is_refused_quickly_without_the_worker_growing(tmp_path, bomb, size, message):
    build, suffix = import_bombs.BOMBS[bomb]
    path = build(tmp_path / (bomb + suffix), **size)
    assert path.stat().st_size <= cells.MAX_UPLOAD_BYTES  # passes the upload form's size check

    outcome = import_bombs.measure(path, timeout=60)

    assert outcome.get("refused"), outcome
    assert message in outcome["message"]
    assert outcome["seconds"] < MAX_SECONDS, outcome
    assert outcome["growth_mb"] < MAX_GROWTH_MB, outcome


def test_rm_uploading_a_wide_row_bomb_sees_the_message_in_chinese(client, rm1, tmp_path):
    path = import_bombs.wide_row(tmp_path / "bomb.xlsx", cells=100_000)
    client.force_login(rm1)
    client.cookies["django_language"] = "zh-hans"

    response = client.post(
        reverse("customers:import"),
        {"kind": "customers", "file": SimpleUploadedFile("bomb.xlsx", path.read_bytes())},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["file"])
    assert "第 1 行" in errors and "200" in errors


def test_repayment_import_refuses_a_blank_rows_bomb(client, risk_officer, tmp_path):
    path = import_bombs.blank_rows(tmp_path / "bomb.xlsx", megabytes=2)
    client.force_login(risk_officer)

    response = client.post(
        reverse("risk:repayment_import"), {"file": SimpleUploadedFile("bomb.xlsx", path.read_bytes())}
    )

    assert response.status_code == 200
    assert "more than 50,000 rows" in " ".join(response.context["form"].errors["file"])


# --- the caps themselves, in process -------------------------------------------------------------
SMALL = Limits(rows=5, columns=3, cells=8, characters=100, cell_characters=10, record_characters=40, depth=12)


def _workbook(sheet_data: str, strings: str | None = None) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            f"{sheet_data}</sheetData></worksheet>",
        )
        if strings is not None:
            archive.writestr("xl/sharedStrings.xml", f"<sst>{strings}</sst>")
    return zipfile.ZipFile(buffer)


def _refusal(archive: zipfile.ZipFile) -> str | None:
    try:
        check_xlsx(archive, SMALL)
    except SpreadsheetTooLarge as exc:
        return exc.message
    return None


def test_a_sheet_at_the_caps_passes_and_one_cell_more_is_refused():
    row = '<row><c r="A{n}"><v>1</v></c><c r="C{n}" t="inlineStr"><is><t>0123456789</t></is></c></row>'
    at_caps = "".join(row.format(n=n) for n in range(1, 5))
    assert _refusal(_workbook(at_caps, "<si><t>x</t></si>" * 8)) is None

    assert "more than 8 cells" in _refusal(_workbook(at_caps + '<row><c r="A5"/></row>'))
    assert "beyond column 3" in _refusal(_workbook('<row><c r="D1"/></row>'))
    assert "beyond column 3" in _refusal(_workbook("<row>" + "<c/>" * 4 + "</row>"))
    assert "more than 5 rows" in _refusal(_workbook('<row r="6"/>'))
    assert "more than 5 rows" in _refusal(_workbook("<row/>" * 6))
    assert "more than 10 characters" in _refusal(
        _workbook('<row><c t="inlineStr"><is><t>' + "x" * 11 + "</t></is></c></row>")
    )


def test_shared_strings_may_outnumber_the_cells_only_by_a_margin():
    assert _refusal(_workbook('<row><c t="s"><v>0</v></c></row>', "<si><t>x</t></si>" * 8)) is None
    refusal = _refusal(_workbook("", "<si><t>x</t></si>" * 10_001))
    assert refusal is not None and "table of texts" in refusal


def test_a_document_type_declaration_is_refused():
    laughs = '<!DOCTYPE lolz [<!ENTITY lol "lol">]><worksheet><sheetData/></worksheet>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", laughs)
    assert "no spreadsheet program writes" in _refusal(zipfile.ZipFile(buffer))


def test_a_bloated_styles_part_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/styles.xml", "<styleSheet>" + "<xf/>" * 100_001 + "</styleSheet>")
    assert "other than its cells" in _refusal(zipfile.ZipFile(buffer))


def test_csv_records_keep_line_endings_and_quoted_newlines_as_the_csv_module_does():
    text = 'a,b\r\n"two\nlines",x\rmac,line\n\nlast,one'
    assert list(csv_records(text, ",", SMALL)) == [
        ["a", "b"],
        ["two\nlines", "x"],
        ["mac", "line"],
        [],
        ["last", "one"],
    ]


def test_csv_caps_on_records_fields_and_length():
    with pytest.raises(SpreadsheetTooLarge, match="more than 5 lines"):
        list(csv_records("a\n" * 6, ",", SMALL))
    with pytest.raises(SpreadsheetTooLarge, match="Line 2 has more than 3 columns"):
        list(csv_records("a\n1,2,3,4\n", ",", SMALL))
    with pytest.raises(SpreadsheetTooLarge, match="longer than 40 characters"):
        list(csv_records("a\n" + "x" * 41 + "\n", ",", SMALL))
    # A quoted field spanning lines counts towards one record.
    with pytest.raises(SpreadsheetTooLarge, match="longer than 40 characters"):
        list(csv_records('"' + "x\n" * 25 + '"\n', ",", SMALL))


def test_refusals_are_translated():
    with translation.override("zh-hans"), pytest.raises(cells.FileRejected) as refused:
        cells.read_table(b"name\n" + b"a," * 300 + b"\n")
    assert "第 2 行" in refused.value.message and "200" in refused.value.message


def test_a_malformed_part_does_not_wave_a_bomb_in_another_part_through():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData><row></sheetData>")
        archive.writestr("xl/worksheets/sheet2.xml", "<worksheet><sheetData>" + "<row/>" * 6 + "</sheetData>")
    assert "more than 5 rows" in _refusal(zipfile.ZipFile(buffer))
