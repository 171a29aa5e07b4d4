"""Checking an import file row by row, and writing a clean one all at once.

``check()`` reads a file and validates every row against the kind's columns, including the rules
that need the database: a source row must name a customer the user may see (anything else is
"unknown customer", so a file cannot probe for other people's customers), a customer row must
not repeat a registered credit code, and no row may repeat another. ``commit()`` writes the rows
of a clean check, all or none.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from customers.access import assignable_owners, customers_for
from customers.exchange import cells
from customers.exchange.cells import FileRejected, Table, read_table
from customers.exchange.kinds import CREDIT_CODE, CUSTOMERS, Column, ImportKind
from customers.models import Customer, DataSource, GradeReason
from customers.regrade import regrade
from customers.services.intake import sources_import

PREVIEW_ROWS = 50
LOOKUP_CHUNK = 2000  # values per IN (...) query: far below every database's limit


class ImportConflict(Exception):
    """Someone else registered one of the file's credit codes between check and commit."""


@dataclass(frozen=True)
class RowError:
    row: int  # the spreadsheet row number: the header is row 1
    column: str
    message: str


@dataclass
class CheckedRow:
    number: int
    cells: list[str]  # as the file shows them, one per column of ``Checked.columns``
    values: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)

    def bad_columns(self) -> set[str]:
        return {e.column for e in self.errors}


@dataclass(kw_only=True)
class CheckedFile:
    """A file read and every row checked: what the preview of any import shows."""

    preview_rows: ClassVar[int] = PREVIEW_ROWS
    columns: list[Column]  # the kind's columns the file has, in the kind's order
    rows: list[CheckedRow]
    ignored: list[str]  # headers that name no column

    @property
    def errors(self) -> list[RowError]:
        return [e for row in self.rows for e in row.errors]

    @property
    def bad_rows(self) -> int:
        return sum(1 for row in self.rows if row.errors)

    @property
    def preview(self) -> list[CheckedRow]:
        return self.rows[: self.preview_rows]


@dataclass(kw_only=True)
class Checked(CheckedFile):
    kind: ImportKind
    records: list[models.Model] = field(default_factory=list)  # unsaved; only if no row is bad


def check(kind: ImportKind, data: bytes, *, user, part: slice = slice(None)) -> Checked:
    """Read and validate the whole file, or only the rows ``part`` of it (the rows after the
    header, counted from 0: a background import checks and writes one chunk at a time). Raises
    FileRejected when the file as a whole cannot be used (unreadable, too large, required
    columns missing)."""
    rows, present, ignored = read_rows(kind, data, part=part)
    _no_repeats(kind, rows)
    if kind is CUSTOMERS:
        _resolve_customers(rows, user)
    else:
        _resolve_sources(kind, rows, user)
    checked = Checked(kind=kind, columns=present, rows=rows, ignored=ignored)
    if not checked.bad_rows:
        checked.records = [_build(kind, row.values, user) for row in rows]
    return checked


def read_rows(
    kind: ImportKind, data: bytes, *, part: slice = slice(None)
) -> tuple[list[CheckedRow], list[Column], list[str]]:
    """Every import's first step (the repayment import's too): the file's rows, each cell parsed
    by its column (an unreadable or missing required cell is the row's error), the kind's columns
    the file has in the kind's order, and the headers that name none; only the rows ``part``
    are parsed. Raises FileRejected when the file as a whole cannot be used."""
    table = read_table(data)
    positions, ignored = match_columns(kind, table)
    rows = [check_row(number, raw, kind.columns, positions) for number, raw in table.rows[part]]
    return rows, [c for c in kind.columns if c.field in positions], ignored


def match_columns(kind: ImportKind, table: Table) -> tuple[dict[str, int], list[str]]:
    """Where each of the kind's columns is in the file (field → index), and the headers that
    name none. Raises FileRejected for a column named twice or a required one missing."""
    by_name = {name: column for column in kind.columns for name in column.names()}
    positions: dict[str, int] = {}
    ignored = []
    for index, header in enumerate(table.headers):
        column = by_name.get(cells.normalize_header(header))
        if column is None:
            if header:
                ignored.append(header)
        elif column.field in positions:
            raise FileRejected(_("The column “%(name)s” appears twice.") % {"name": column.label})
        else:
            positions[column.field] = index
    missing = [str(c.label) for c in kind.columns if c.required and c.field not in positions]
    if missing:
        raise FileRejected(
            _("These required columns are missing: %(names)s. The first row must hold the column names.")
            % {"names": ", ".join(f"“{name}”" for name in missing)}
        )
    return positions, ignored


def check_row(number: int, raw: list[Any], columns: Iterable[Column], positions: dict[str, int]) -> CheckedRow:
    """One row's cells parsed by their columns, each unreadable or missing required cell an error."""
    row = CheckedRow(number=number, cells=[], values={})
    for column in columns:
        index = positions.get(column.field)
        value = raw[index] if index is not None and index < len(raw) else None
        if index is not None:
            row.cells.append(cells.display(value))
        if cells.is_blank(value):
            if column.required:
                row.errors.append(RowError(number, str(column.label), _("This value is required.")))
            row.values[column.field] = column.default
            continue
        try:
            row.values[column.field] = column.parse(value)
        except cells.CellError as exc:
            row.errors.append(RowError(number, str(column.label), str(exc)))
            row.values[column.field] = None
    return row


def _no_repeats(kind: ImportKind, rows: list[CheckedRow]) -> None:
    first_seen: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row.values.get(f) for f in kind.duplicate_key)
        if None in key:
            continue  # the row already has an error for the missing part
        if key in first_seen:
            if len(key) == 1:
                message = _("Row %(row)d has the same credit code.")
            else:
                message = _("Row %(row)d has the same customer and date.")
            row.errors.append(RowError(row.number, str(CREDIT_CODE.label), message % {"row": first_seen[key]}))
        else:
            first_seen[key] = row.number


def chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    """``values`` in slices of ``size``, one IN (...) query each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _codes(rows: list[CheckedRow]) -> list[str]:
    return sorted({row.values["credit_code"] for row in rows if row.values.get("credit_code")})


def _resolve_customers(rows: list[CheckedRow], user) -> None:
    taken = set()
    for chunk in chunks(_codes(rows)):
        taken.update(Customer.objects.filter(credit_code__in=chunk).values_list("credit_code", flat=True))
    owners = {u.username.casefold(): u for u in assignable_owners(user)}
    me = owners.get(user.username.casefold())  # an RM owns what they import
    owner_label = str(CUSTOMERS.column("owner").label)
    for row in rows:
        if row.values.get("credit_code") in taken:
            message = _("A customer with this credit code is already registered.")
            row.errors.append(RowError(row.number, str(CREDIT_CODE.label), message))
        name = row.values.get("owner")
        if name is None:
            continue  # already reported by the cell parser
        owner = owners.get(name.casefold()) if name else me
        if owner is None:
            if name:
                message = _("“%(name)s” is not a relationship manager you may assign customers to.") % {"name": name}
            else:
                message = _("Enter the user name of the relationship manager who will own this customer.")
            row.errors.append(RowError(row.number, owner_label, message))
        elif owner.team_id is None:
            message = _("%(name)s belongs to no team yet.") % {"name": owner.username}
            row.errors.append(RowError(row.number, owner_label, message))
        row.values["owner"] = owner


def _resolve_sources(kind: ImportKind, rows: list[CheckedRow], user) -> None:
    visible: dict[str, int] = {}
    for chunk in chunks(_codes(rows)):
        visible.update(customers_for(user).filter(credit_code__in=chunk).values_list("credit_code", "pk"))
    # The same report imported twice would count twice in the history: refuse what is recorded.
    key_fields = [f for f in kind.duplicate_key if f != "credit_code"]
    recorded = set()
    for chunk in chunks(sorted(set(visible.values()))):
        recorded.update(kind.model.objects.filter(customer_id__in=chunk).values_list("customer_id", *key_fields))
    date_label = str(kind.column("as_of").label)
    for row in rows:
        code = row.values.get("credit_code")
        if code is None:
            continue
        if code not in visible:
            # The same words whether the customer does not exist or is not the user's.
            message = _("Unknown customer: none of the customers you can see has this credit code.")
            row.errors.append(RowError(row.number, str(CREDIT_CODE.label), message))
            continue
        row.values["customer_id"] = visible[code]
        if (visible[code], *(row.values.get(f) for f in key_fields)) in recorded:
            message = _("This customer already has a %(kind)s with this date.") % {
                "kind": kind.model._meta.verbose_name
            }
            row.errors.append(RowError(row.number, date_label, message))


def _build(kind: ImportKind, values: dict[str, Any], user) -> models.Model:
    fields = {c.field: values[c.field] for c in kind.columns if c.field not in ("credit_code", "owner")}
    if kind is CUSTOMERS:
        owner = values["owner"]
        return Customer(credit_code=values["credit_code"], owner=owner, team_id=owner.team_id, **fields)
    return kind.model(customer_id=values["customer_id"], entered_by=user, source=DataSource.IMPORT, **fields)


def commit(checked: Checked, *, by) -> int:
    """Save every row of a clean check, or none. Returns how many rows were saved."""
    if checked.bad_rows or not checked.records:
        raise ValueError("only a clean check can be committed")
    if checked.kind is CUSTOMERS:
        # One INSERT per thousand rows plus their history rows. customer_create() queues a "new
        # customer" mail to the team managers per row; for a file of thousands that would flood
        # their inboxes, so a bulk registration sends none.
        try:
            with transaction.atomic():
                created = bulk_create_with_history(checked.records, Customer, batch_size=1000, default_user=by)
                # Graded at once, like a customer created on the form (Unrated until data).
                regrade(reason=GradeReason.DATA_CHANGED, ids=[c.pk for c in created])
        except IntegrityError as exc:
            raise ImportConflict from exc
    else:
        # One transaction: the rows, the refreshed grading inputs and the new grades.
        sources_import(records=checked.records)
    return len(checked.records)
