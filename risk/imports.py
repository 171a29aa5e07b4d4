"""Repayments from a bank statement as CSV or XLSX: every row checked first, then all of them
booked in one transaction, or none.

Built on the customer import (``customers.exchange``): the file is read by ``read_rows`` (size
and row limits, encodings, old Excel, zip bombs), cells by its parsers, headers matched the same
way (English or Chinese names, any order, other columns ignored), errors kept per row and column
in its ``RowError``/``CheckedRow``. What is particular to repayments:

- a row names its facility by the facility code, found only among ``facilities_for(user)``: a
  code that exists nowhere and one the user may not see get the same words, so a file cannot
  probe for other people's facilities;
- each row must pass ``risk.services.repayment_problems`` (the admin form's rule), and the rows
  of one facility together may not repay more than it still owes;
- a repayment may not be booked twice: not twice in the file, and not again when one with the
  same facility, date, amount and bank reference is already recorded.

``check`` is the preview; ``repayments_import`` checks the file again under the facilities' row
locks and books it through ``risk.services.repayment_record``.
"""

import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.exchange import cells
from customers.exchange.background import ImportWriter, RowsRefused
from customers.exchange.cells import CellError
from customers.exchange.checking import CheckedFile, CheckedRow, RowError, chunks, read_rows
from customers.exchange.kinds import CREDIT_CODE, DATE, MONEY, Column, ImportKind
from risk.access import facilities_for
from risk.exceptions import ConcurrentChange, InputRefused
from risk.models import Facility, Repayment, RepaymentInstallment
from risk.selectors import ZERO
from risk.selectors import still_owed as _still_owed
from risk.services import repayment_problems, repayment_record

PREVIEW_ROWS = 500  # a bank statement is short; the officer should see every line of it
_VALID_AMOUNT = Decimal("1.00")  # passes every amount rule: isolates the date's problems


class ImportChanged(Exception):
    """At confirm time a row is no longer valid (the facility changed since the preview);
    nothing was booked. ``checked`` is the fresh check, to show the user why."""

    def __init__(self, checked: "CheckedRepayments"):
        super().__init__(f"{checked.bad_rows} rows no longer valid")
        self.checked = checked


# --- Cells ---------------------------------------------------------------------------------------
def _halfwidth(value: Any) -> Any:
    """Full-width digits and punctuation (１２３４．５０, ２０２６－０３－０１) as ASCII: Chinese
    input methods type them, and a bank's export may keep them. NFKC maps exactly these."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def _facility_code(value: Any) -> uuid.UUID:
    raw = cells.display(_halfwidth(value))
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise CellError(
            _("“%(value)s” is not a facility code. It has 32 hexadecimal digits, e.g. %(example)s.")
            % {"value": raw, "example": "3f2b8c1e-5d4a-4e9b-9c7d-1a2b3c4d5e6f"}
        ) from None


def _amount(value: Any) -> Decimal:
    return cells.money(_halfwidth(value))


def _day(value: Any) -> date:
    return cells.day(_halfwidth(value))


FACILITY = Column(
    "facility_code",
    gettext_lazy("Facility code"),
    _facility_code,
    aliases=("facility", "授信编号", "额度编号", "融资编号", "授信额度编号"),
    hint=gettext_lazy("The facility's code: 32 hexadecimal digits, with or without hyphens"),
)
RECEIVED_ON = Column(
    "received_on",
    gettext_lazy("Received on"),
    _day,
    aliases=("date", "received", "date received", "value date", "收款日期", "还款日期", "到账日期", "入账日期"),
    hint=DATE,
)
AMOUNT = Column(
    "amount",
    gettext_lazy("Amount (CNY)"),
    _amount,
    aliases=("amount", "金额", "还款金额", "收款金额", "到账金额", "金额(元)"),
    hint=MONEY,
)
REFERENCE = Column(
    "reference",
    gettext_lazy("Bank reference"),
    cells.text(100),
    required=False,
    default="",
    aliases=("reference", "bank ref", "银行流水号", "流水号", "交易流水号", "交易参考号"),
    hint=gettext_lazy("Up to 100 characters; optional, but it is what recognises a repayment booked twice"),
)
# Optional cross-check that the code belongs to the customer the bank statement names.
CUSTOMER_CODE = replace(
    CREDIT_CODE, required=False, default="", hint=gettext_lazy("Optional: must be the facility's customer")
)

REPAYMENTS = ImportKind(
    "repayments",
    gettext_lazy("Repayments"),
    Repayment,
    columns=(FACILITY, RECEIVED_ON, AMOUNT, REFERENCE, CUSTOMER_CODE),
    duplicate_key=("facility_code", "received_on", "amount", "reference"),
    help=gettext_lazy("Books money received against facilities, e.g. from the bank's statement."),
)


# --- Result of a check ---------------------------------------------------------------------------
@dataclass
class FacilityTotal:
    facility: Facility
    rows: int = 0
    amount: Decimal = ZERO
    owed: Decimal = ZERO  # still owed before this file (see ``_still_owed``)

    @property
    def owed_after(self) -> Decimal:
        return self.owed - self.amount


@dataclass(kw_only=True)
class CheckedRepayments(CheckedFile):
    preview_rows: ClassVar[int] = PREVIEW_ROWS  # every line of a statement
    totals: list[FacilityTotal] = field(default_factory=list)  # per facility the user may see

    @property
    def amount(self) -> Decimal:
        return sum((row.values["amount"] for row in self.rows if row.values.get("amount") is not None), ZERO)


# --- Checking ------------------------------------------------------------------------------------
def check(
    data: bytes, *, user, today: date | None = None, lock: bool = False, part: slice = slice(None)
) -> CheckedRepayments:
    """Read and validate the whole file, or only its rows ``part`` (counted from 0 after the
    header) against what is recorded. Raises ``cells.FileRejected`` when the file as a whole
    cannot be used. With ``lock`` (inside a transaction) the facilities named are locked first
    and everything is judged on what the locks protect."""
    today = today or timezone.localdate()
    rows, present, ignored = read_rows(REPAYMENTS, data, part=part)
    facilities = _facilities(rows, user, lock=lock)
    _no_repeats(rows)
    totals = _against_facilities(rows, facilities, today)
    return CheckedRepayments(columns=present, rows=rows, ignored=ignored, totals=totals)


def _facilities(rows: list[CheckedRow], user, *, lock: bool) -> dict[uuid.UUID, Facility]:
    """The user's facilities the file names, by code; each row gets its facility or an error."""
    codes = sorted({row.values["facility_code"] for row in rows if row.values.get("facility_code")})
    found: dict[uuid.UUID, Facility] = {}
    visible = facilities_for(user).select_related("customer")
    for chunk in chunks(codes):
        found.update((f.code, f) for f in visible.filter(code__in=chunk))
    if lock:
        found = _locked(found)
    facility_label, code_label = str(FACILITY.label), str(CUSTOMER_CODE.label)
    for row in rows:
        code = row.values.get("facility_code")
        if code is None:
            continue  # already reported by the cell parser
        facility = found.get(code)
        if facility is None:
            # The same words whether the facility does not exist or is not the user's.
            message = _("No facility with this code among the facilities you can see.")
            row.errors.append(RowError(row.number, facility_label, message))
            continue
        row.values["facility"] = facility
        credit_code = row.values.get("credit_code")
        if credit_code and credit_code != facility.customer.credit_code:
            message = _("This facility belongs to another customer (%(name)s).") % {"name": facility.customer.name}
            row.errors.append(RowError(row.number, code_label, message))
    return found


def _locked(found: dict[uuid.UUID, Facility]) -> dict[uuid.UUID, Facility]:
    """The same facilities, re-read under row locks. Always locked in id order: two imports
    naming the same facilities then queue behind each other instead of deadlocking. (SQLite
    ignores FOR UPDATE; there BEGIN IMMEDIATE already serialises writers.)"""
    by_id = {f.pk: f for f in found.values()}
    locked: dict[uuid.UUID, Facility] = {}
    for chunk in chunks(sorted(by_id)):
        for facility in Facility.objects.select_for_update().filter(pk__in=chunk).order_by("pk"):
            facility.customer = by_id[facility.pk].customer  # read, not locked: it is only shown
            locked[facility.code] = facility
    return locked


def _no_repeats(rows: list[CheckedRow]) -> None:
    first_seen: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row.values.get(f) for f in REPAYMENTS.duplicate_key)
        if None in key:
            continue  # a part is missing or unreadable: that is already an error
        if key in first_seen:
            message = _("Row %(row)d has the same facility, date, amount and bank reference.")
            row.errors.append(RowError(row.number, str(AMOUNT.label), message % {"row": first_seen[key]}))
        else:
            first_seen[key] = row.number


def _against_facilities(
    rows: list[CheckedRow], facilities: dict[uuid.UUID, Facility], today: date
) -> list[FacilityTotal]:
    ids = sorted(f.pk for f in facilities.values())
    interest: dict[int, Decimal] = defaultdict(lambda: ZERO)
    repaid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    recorded: set[tuple] = set()
    # Summed in Python: exact Decimal on every database (SQLite would sum binary floats).
    for chunk in chunks(ids):
        for facility_id, amount in RepaymentInstallment.objects.filter(facility_id__in=chunk).values_list(
            "facility_id", "interest"
        ):
            interest[facility_id] += amount
        repayments = Repayment.objects.filter(facility_id__in=chunk).values_list(
            "facility_id", "received_on", "amount", "reference"
        )
        for facility_id, received_on, amount, reference in repayments:
            repaid[facility_id] += amount
            if reference:
                recorded.add((facility_id, received_on, amount, reference))

    totals: dict[int, FacilityTotal] = {}
    for facility in sorted(facilities.values(), key=lambda f: (f.customer.name, f.start_date, f.pk)):
        owed = _still_owed(facility, interest=interest[facility.pk], repaid=repaid[facility.pk])
        totals[facility.pk] = FacilityTotal(facility=facility, owed=owed)
    left = {pk: total.owed for pk, total in totals.items()}
    booked = defaultdict(int)  # earlier valid rows per facility

    date_label, amount_label = str(RECEIVED_ON.label), str(AMOUNT.label)
    for row in rows:
        facility, received_on, amount = (row.values.get(k) for k in ("facility", "received_on", "amount"))
        if facility is None:
            continue
        if amount is not None:
            totals[facility.pk].rows += 1
            totals[facility.pk].amount += amount
        if received_on is None or amount is None:
            continue  # the unreadable cell is the error to fix first
        reference = row.values.get("reference") or ""
        if reference and (facility.pk, received_on, amount, reference) in recorded:
            message = _("This repayment is already recorded: same facility, date, amount and bank reference.")
            row.errors.append(RowError(row.number, str(REFERENCE.label), message))
        # repayment_problems() judges the whole repayment; asked again with an amount that is
        # always valid, it names the date's problems, so each message marks the right cell.
        problems = repayment_problems(facility, received_on=received_on, amount=amount, today=today)
        of_date = repayment_problems(facility, received_on=received_on, amount=_VALID_AMOUNT, today=today)
        for problem in problems:
            row.errors.append(RowError(row.number, date_label if problem in of_date else amount_label, problem))
        if row.errors:
            continue
        if amount > left[facility.pk]:
            values = {"owed": f"{left[facility.pk]:,.2f}"}
            if booked[facility.pk]:
                message = (
                    _("More than the facility still owes after the rows above for it: %(owed)s CNY remain.") % values
                )
            else:
                message = _("More than the facility still owes: %(owed)s CNY.") % values
            row.errors.append(RowError(row.number, amount_label, message))
            continue
        left[facility.pk] -= amount
        booked[facility.pk] += 1
    return [total for total in totals.values() if total.rows]


# --- Booking -------------------------------------------------------------------------------------
def repayments_import(*, data: bytes, by) -> CheckedRepayments:
    """Book every row of the file, or none. The file is checked again inside the transaction
    with the facilities locked — they may have changed since the preview — and each row is
    booked by ``repayment_record`` (which keeps the outstanding amount in step). Raises
    ``ImportChanged`` when a row is no longer valid, ``FileRejected`` when the file is not
    usable; either way nothing is written."""
    with transaction.atomic():
        return repayments_book(data=data, by=by)


def repayments_book(*, data: bytes, by, part: slice = slice(None)) -> CheckedRepayments:
    """Check the rows ``part`` of the file again under the facilities' row locks and book them,
    in the caller's transaction (which must be open: the locks last until it ends). Raises
    like ``repayments_import``; the caller's rollback then leaves nothing of these rows."""
    checked = check(data, user=by, lock=True, part=part)
    if checked.bad_rows:
        raise ImportChanged(checked)
    for row in checked.rows:
        repayment_record(
            facility=row.values["facility"],
            received_on=row.values["received_on"],
            amount=row.values["amount"],
            reference=row.values["reference"],
            by=by,
        )
    return checked


# --- Booking in the background -------------------------------------------------------------------
def _book(data: bytes, user, part: slice) -> None:
    try:
        repayments_book(data=data, by=user, part=part)
    except ImportChanged as exc:
        raise RowsRefused(exc.checked.errors) from None
    except (InputRefused, ConcurrentChange):
        # Only if something changed between the re-check and the booking (e.g. midnight passed).
        raise RowsRefused([RowError(0, "", _("A facility changed while booking."))]) from None


WRITER = ImportWriter(
    check=lambda data, user, part: check(data, user=user, part=part),
    write=_book,
    summary=lambda checked: {"amount": f"{checked.amount:.2f}"},
)
