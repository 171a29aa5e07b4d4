"""Writes to facilities. Each function is one business action in one transaction.

Outstanding rule: ``outstanding = drawn − principal covered by all repayments received``, where
the cover comes from the waterfall of ``risk.selectors`` (installments in due order, interest
before principal within each, the remainder against principal not yet scheduled). Both writers
that can change that figure — a new repayment and a new schedule — recompute it from the rows
under the facility's lock and write it with a conditional ``UPDATE … WHERE outstanding = <value
read under the lock>``, so two concurrent writers cannot lose one another's effect."""

import datetime
import logging
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import User
from funnel.models import Deal
from risk.dashboard.rollup import rollup_repayment_add
from risk.exceptions import ConcurrentChange, RepaymentRefused, ScheduleRefused
from risk.models import Facility, Repayment, RepaymentInstallment
from risk.selectors import ZERO, still_owed, waterfall

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


def _money(value) -> str:
    return f"{value:,.2f}"


def _lock(facility: Facility) -> Facility:
    # PostgreSQL: a row lock queues every writer of this facility behind the first. SQLite
    # ignores FOR UPDATE; there BEGIN IMMEDIATE (config/settings.py) already serialises writers.
    return Facility.objects.select_for_update().get(pk=facility.pk)


def _whole_cents(value: Decimal) -> bool:
    return value == value.quantize(CENT)


def _outstanding_sync(facility: Facility) -> Decimal:
    """Recompute outstanding from the schedule and every repayment, inside the caller's
    transaction and under its lock, and store it with a compare-and-set update."""
    installments = list(RepaymentInstallment.objects.filter(facility_id=facility.pk))
    # Summed in Python: exact Decimal on every database (SQLite would sum binary floats).
    repaid = sum(Repayment.objects.filter(facility_id=facility.pk).values_list("amount", flat=True), ZERO)
    scheduled = sum((i.principal for i in installments), ZERO)
    _, principal_repaid = waterfall(installments, repaid, unscheduled_principal=facility.drawn - scheduled)
    outstanding = max(facility.drawn - principal_repaid, ZERO)
    updated = Facility.objects.filter(pk=facility.pk, outstanding=facility.outstanding).update(outstanding=outstanding)
    if not updated:
        raise ConcurrentChange(facility.pk)
    facility.outstanding = outstanding
    return outstanding


# --- Opening ---------------------------------------------------------------------------------------
def facility_open(
    *,
    deal: Deal,
    by: User,
    amount: Decimal,
    start_date: datetime.date,
    maturity_date: datetime.date | None,
) -> Facility:
    """A funded deal becomes a facility for monitoring: the approved limit (the funded amount
    for a deal without one), drawn in full at the start; drawdown schedules are kept on the
    facility afterwards.

    One INSERT, so atomic on its own. Called by the deal_funded receiver inside deal_move's
    transaction, so a facility that cannot be written undoes the move to Funded with it; the
    amount has been checked against the approved limit there, before the move."""
    granted = deal.proposed_limit if deal.proposed_limit is not None else amount
    return Facility.objects.create(
        customer_id=deal.customer_id,
        deal=deal,
        granted_limit=granted,
        limit=granted,
        drawn=amount,
        outstanding=amount,
        start_date=start_date,
        maturity_date=maturity_date,
        created_by=by,
    )


# --- Schedule --------------------------------------------------------------------------------------
def schedule_problems(
    facility: Facility,
    installments: list[tuple[datetime.date, Decimal, Decimal]],
    *,
    today: datetime.date,
    kept_principal: Decimal = ZERO,
) -> list[str]:
    """Why ``installments`` cannot become the facility's schedule after ``today`` (empty: it can).
    ``kept_principal`` is the principal of the installments already due, which stay."""
    problems: list[str] = []
    for due_date, principal, interest in installments:
        day = due_date.isoformat()
        if principal < 0 or interest < 0:
            problems.append(_("%(date)s: principal and interest cannot be negative.") % {"date": day})
        elif principal + interest == 0:
            problems.append(_("%(date)s: an installment must ask for some principal or interest.") % {"date": day})
        if not (_whole_cents(principal) and _whole_cents(interest)):
            problems.append(_("%(date)s: give amounts in whole fen (two decimal places).") % {"date": day})
        if due_date <= today:
            problems.append(
                _("%(date)s: only installments due after today can be set; those already due stay as they are.")
                % {"date": day}
            )
        if due_date < facility.start_date:
            problems.append(
                _("%(date)s: the facility starts on %(start)s.") % {"date": day, "start": facility.start_date}
            )
        if facility.maturity_date and due_date > facility.maturity_date:
            problems.append(
                _("%(date)s: the facility matures on %(maturity)s.") % {"date": day, "maturity": facility.maturity_date}
            )
    for due_date, count in Counter(i[0] for i in installments).items():
        if count > 1:
            problems.append(_("%(date)s appears more than once; give one installment per date.") % {"date": due_date})
    total = kept_principal + sum((i[1] for i in installments), ZERO)
    if total > facility.drawn:
        problems.append(
            _("The schedule's principal totals %(total)s CNY, more than the %(drawn)s CNY drawn.")
            % {"total": _money(total), "drawn": _money(facility.drawn)}
        )
    return problems


def schedule_set(
    *, facility: Facility, installments: Iterable[tuple[datetime.date, Decimal, Decimal]], by
) -> list[RepaymentInstallment]:
    """Replace the facility's installments due after today with ``installments`` — a list of
    ``(due_date, principal, interest)`` — all or nothing. Installments already due are history:
    changing them would rewrite what was overdue, so they are kept and cannot be given."""
    rows = [(due, Decimal(principal), Decimal(interest)) for due, principal, interest in installments]
    today = timezone.localdate()
    with transaction.atomic():
        current = _lock(facility)
        kept = RepaymentInstallment.objects.filter(facility=current, due_date__lte=today)
        kept_principal = sum(kept.values_list("principal", flat=True), ZERO)
        problems = schedule_problems(current, rows, today=today, kept_principal=kept_principal)
        if problems:
            raise ScheduleRefused(problems)
        RepaymentInstallment.objects.filter(facility=current, due_date__gt=today).delete()
        RepaymentInstallment.objects.bulk_create(
            RepaymentInstallment(facility=current, due_date=due, principal=principal, interest=interest)
            for due, principal, interest in sorted(rows)
        )
        # The waterfall's principal cover depends on the schedule: keep outstanding in step.
        _outstanding_sync(current)
        log.info("schedule of facility %s set by %s: %d installments", current.pk, by.pk, len(rows))
    facility.outstanding = current.outstanding
    return list(RepaymentInstallment.objects.filter(facility=current))


# --- Repayments ------------------------------------------------------------------------------------
def repayment_problems(
    facility: Facility, *, received_on: datetime.date | None, amount: Decimal | None, today: datetime.date
) -> list[str]:
    """Why this repayment cannot be recorded (empty: it can). Shared with the admin form."""
    problems: list[str] = []
    if amount is None or amount <= 0:
        problems.append(_("The amount must be more than zero."))
    elif not _whole_cents(amount):
        problems.append(_("Give the amount in whole fen (two decimal places)."))
    if received_on is None:
        problems.append(_("Give the date the money was received."))
    elif received_on > today:
        problems.append(_("The date received cannot be in the future."))
    elif received_on < facility.start_date:
        problems.append(
            _("The date received is before the facility started on %(start)s.") % {"start": facility.start_date}
        )
    return problems


def repayment_record(
    *, facility: Facility, received_on: datetime.date, amount: Decimal, reference: str = "", by
) -> Repayment:
    """Record money received and bring ``Facility.outstanding`` in step (module docstring).
    Today is the local (Asia/Shanghai) date: a repayment received today in Shanghai is not
    "in the future" just because UTC is still on yesterday."""
    amount = Decimal(amount)
    problems = repayment_problems(facility, received_on=received_on, amount=amount, today=timezone.localdate())
    if problems:
        raise RepaymentRefused(problems)
    with transaction.atomic():
        current = _lock(facility)
        repayment = Repayment.objects.create(
            facility=current, received_on=received_on, amount=amount, reference=reference.strip(), entered_by=by
        )
        _outstanding_sync(current)
        # The dashboard's month counts it now, not at the next rebuild (in this transaction:
        # see rollup_repayment_add for why that makes it counted exactly once).
        rollup_repayment_add(facility_id=current.pk, received_on=received_on, amount=amount)
    facility.outstanding = current.outstanding
    return repayment


def _entry_problems(facility: Facility, *, received_on: datetime.date, amount: Decimal, reference: str) -> list[str]:
    """What a row of the repayment import is held to beyond ``repayment_problems`` (the same
    rules and words as ``risk.imports``): not a repayment already recorded, not more than the
    facility still owes (``risk.selectors.still_owed``)."""
    problems: list[str] = []
    recorded = Repayment.objects.filter(facility_id=facility.pk)
    if reference and recorded.filter(received_on=received_on, amount=amount, reference=reference).exists():
        problems.append(_("This repayment is already recorded: same facility, date, amount and bank reference."))
    # Summed in Python: exact Decimal on every database (SQLite would sum binary floats).
    interest = sum(
        RepaymentInstallment.objects.filter(facility_id=facility.pk).values_list("interest", flat=True), ZERO
    )
    owed = still_owed(facility, interest=interest, repaid=sum(recorded.values_list("amount", flat=True), ZERO))
    if amount > owed:
        problems.append(_("More than the facility still owes: %(owed)s CNY.") % {"owed": _money(owed)})
    return problems


def repayment_enter(
    *, facility: Facility, received_on: datetime.date, amount: Decimal, reference: str = "", by
) -> Repayment:
    """One repayment entered by hand (the facility page), held to everything a row of the
    repayment import is: ``repayment_problems``, then the import's own checks (see
    ``_entry_problems``), and booked by ``repayment_record`` as each imported row is — so the
    outstanding amount follows and the schedule's installments count as paid by the waterfall.
    Judged under the facility's lock, all in one transaction: two people entering the same
    repayment at once book it once, and a refusal (``RepaymentRefused``) writes nothing."""
    reference = (reference or "").strip()
    with transaction.atomic():
        current = _lock(facility)
        problems = repayment_problems(current, received_on=received_on, amount=amount, today=timezone.localdate())
        if not problems:
            problems = _entry_problems(current, received_on=received_on, amount=amount, reference=reference)
        if problems:
            raise RepaymentRefused(problems)
        repayment = repayment_record(
            facility=current, received_on=received_on, amount=amount, reference=reference, by=by
        )
        log.info("repayment %s entered on facility %s by %s", repayment.pk, current.pk, by.pk)
    facility.outstanding = current.outstanding
    return repayment
