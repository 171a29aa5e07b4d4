"""Hostile import files, and what reading each one costs the worker.

    .venv/bin/python bench/import_bombs.py [--scale 1.0] [--timeout 60] [--memory-mb 4096]

Builds each bomb of issue #11 (small files that unfold into millions of cells, rows, strings or
nested elements, and CSVs with an enormous line or field count) and reads it with the real
reader, ``customers.exchange.cells.read_table``, in a fresh subprocess per file. A fresh
process because ``ru_maxrss`` is a high-water mark: in a process that has already been big
(pytest, a long-lived worker) a bomb that stays under the earlier peak would show no growth.
tracemalloc would see only allocations made through Python's allocator and slows
allocation-heavy parsing several times over; the high-water RSS of a process that did nothing
but read the file is what the worker would pay. The subprocess runs under an address-space
limit so that the old reader cannot take the machine down; hitting it is reported as "killed".

The tests (tests/customers/test_import_bombs.py) build the same bombs, smaller, with these
functions and measure them with ``measure``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "{strings}"
    "</Types>"
)
_STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    "{strings}</Relationships>"
)
_STRINGS_REL = (
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/>'
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"
_HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'

Chunks = Callable[[], Iterator[str]]


def xlsx(path: Path, sheet: Chunks, strings: Chunks | None = None) -> Path:
    """A minimal workbook whose first sheet's XML is ``sheet()`` (written as it is produced, so
    that a 200 MB part never exists in memory) and, if given, a shared-strings part."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.format(strings=_STRINGS_TYPE if strings else ""))
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(strings=_STRINGS_REL if strings else ""))
        for name, chunks in (("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", strings)):
            if chunks is None:
                continue
            with archive.open(name, "w", force_zip64=True) as part:
                for chunk in chunks():
                    part.write(chunk.encode())
    return path


def _batched(items: Iterator[str], size: int = 20_000) -> Iterator[str]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    yield "".join(batch)


def wide_row(path: Path, cells: int = 4_190_000) -> Path:
    """One row of ``cells`` number cells (the issue's 124 KB file holds 4,190,000)."""

    def sheet() -> Iterator[str]:
        yield _SHEET_START + '<row r="1">'
        yield from _batched("<c><v>1</v></c>" for _ in range(cells))
        yield "</row>" + _SHEET_END

    return xlsx(path, sheet)


def blank_rows(path: Path, megabytes: int = 199) -> Path:
    """A header, then ``megabytes`` MB of rows without a cell (the issue's file: 199 MB)."""

    def sheet() -> Iterator[str]:
        yield _SHEET_START + _HEADER_ROW
        # Without a row number, as a writer may: each one is the row after the one before.
        batch = "<row/>" * 100_000
        for _ in range(megabytes * 1_000_000 // len(batch)):
            yield batch
        yield _SHEET_END

    return xlsx(path, sheet)


def huge_shared_strings(path: Path, strings: int = 8_000_000) -> Path:
    """A two-cell sheet whose shared-strings table holds ``strings`` strings (alike, so that
    the file stays small; a reader still keeps each one)."""

    def sheet() -> Iterator[str]:
        yield _SHEET_START + _HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>' + _SHEET_END

    def table() -> Iterator[str]:
        yield (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="{strings}">'
        )
        yield from _batched("<si><t>string</t></si>" for _ in range(strings))
        yield "</sst>"

    return xlsx(path, sheet, table)


def deep_nesting(path: Path, depth: int = 10_000_000) -> Path:
    """An inline-string cell whose text sits ``depth`` elements deep."""

    def sheet() -> Iterator[str]:
        yield _SHEET_START + '<row r="1"><c r="A1" t="inlineStr"><is>'
        yield from _batched("<r>" for _ in range(depth))
        yield "<t>deep</t>"
        yield from _batched("</r>" for _ in range(depth))
        yield "</is></c></row>" + _SHEET_END

    return xlsx(path, sheet)


def csv_long_line(path: Path, characters: int = 5_000_000) -> Path:
    """A CSV whose second line is one field of ``characters`` characters."""
    path.write_bytes(b"name,credit code\n" + b"x" * characters + b",1\n")
    return path


def csv_many_fields(path: Path, fields: int = 60_000) -> Path:
    """A CSV whose second line holds ``fields`` fields (short enough a line to pass a cap on
    line length; the old reader was as happy with 2,500,000)."""
    path.write_bytes(b"name,credit code\n" + b"a," * fields + b"\n")
    return path


BOMBS: dict[str, tuple[Callable[..., Path], str]] = {
    "wide_row": (wide_row, ".xlsx"),
    "blank_rows": (blank_rows, ".xlsx"),
    "huge_shared_strings": (huge_shared_strings, ".xlsx"),
    "deep_nesting": (deep_nesting, ".xlsx"),
    "csv_long_line": (csv_long_line, ".csv"),
    "csv_many_fields": (csv_many_fields, ".csv"),
}

# Runs in the subprocess: everything the worker has loaded before an upload arrives (Django,
# the reader and openpyxl) is loaded before the baseline is taken.
_CHILD = """
import json, os, resource, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
import openpyxl  # noqa: F401 - imported by the reader on its first XLSX; not the file's cost
from customers.exchange import cells
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(sys.argv[3], "w") as baseline:  # for the parent, should it kill a reader that never ends
    baseline.write(str(before))
started = time.monotonic()
try:
    table = cells.read_table(data)
    outcome = {"refused": False, "rows": len(table.rows)}
except cells.FileRejected as exc:
    outcome = {"refused": True, "message": exc.message}
except MemoryError:
    outcome = {"refused": False, "error": "MemoryError"}
except Exception as exc:
    outcome = {"refused": False, "error": type(exc).__name__ + ": " + str(exc)[:200]}
outcome["seconds"] = time.monotonic() - started
outcome["growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps(outcome))
"""


def measure(path: Path, *, timeout: float = 60, memory_mb: int = 0) -> dict:
    """Read ``path`` with the real reader in a fresh Python; its outcome, seconds and RSS growth.
    A reader still busy after ``timeout`` seconds is killed; its growth is then its high-water
    RSS (VmHWM) at that moment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    baseline = Path(str(path) + ".baseline")
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _CHILD, str(path), str(memory_mb * 1024 * 1024), str(baseline)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{child.pid}/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        child.kill()
        child.communicate()
        baseline_kb = int(baseline.read_text() or 0)
        baseline.unlink()
        return {
            "refused": False,
            "error": f"still reading after {timeout:.0f} s (killed)",
            "seconds": timeout,
            "growth_mb": (peak_kb - baseline_kb) / 1024,
        }
    baseline.unlink(missing_ok=True)
    if child.returncode != 0:
        return {"refused": False, "error": f"died (exit {child.returncode}): {err.strip()[-200:]}"}
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of the reader")
    parser.add_argument("bombs", nargs="*", default=list(BOMBS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name in args.bombs:
            build, suffix = BOMBS[name]
            path = build(Path(folder) / (name + suffix))
            outcome = measure(path, timeout=args.timeout, memory_mb=args.memory_mb)
            size = path.stat().st_size / 1024
            verdict = "refused" if outcome.get("refused") else outcome.get("error", "ACCEPTED")
            seconds = f"{outcome['seconds']:6.2f} s" if "seconds" in outcome else "     - "
            growth = f"{outcome['growth_mb']:8.1f} MB" if "growth_mb" in outcome else "       - "
            print(f"{name:20} {size:9.0f} KB  {seconds}  {growth}  {verdict}  {outcome.get('message', '')}")
            path.unlink()


if __name__ == "__main__":
    main()
