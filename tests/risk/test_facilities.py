"""Facilities: schedule, repayments, the overdue derivations (per facility and set-based) and
the outstanding amount kept in step."""

import datetime
import threading
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, connections, transaction

from risk import selectors, services
from risk.exceptions import RepaymentRefused, ScheduleRefused
from risk.models import Facility, Repayment, RepaymentInstallment
from tests.factories import SCHEDULE, CustomerFactory, FacilityFactory, add_installments, add_repayments

D = Decimal
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
JUNE_15 = datetime.date(2025, 6, 15)


def at(day: datetime.date, hour: int = 10):
    """Travel to ``day`` at ``hour`` o'clock in Shanghai."""
    return time_machine.travel(datetime.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI), tick=False)


def figures(facility: Facility, today: datetime.date) -> tuple[Decimal, Decimal, Decimal, int]:
    p = selectors.facility_position(facility, today=today)
    return p.due_so_far, p.repaid, p.amount_overdue, p.days_overdue


def set_based(today: datetime.date) -> dict[int, tuple[Decimal, Decimal, Decimal, int]]:
    rows = selectors.with_overdue(Facility.objects.all(), today=today).values_list(
        "pk", "due_so_far", "repaid", "amount_overdue", "days_overdue"
    )
    return {pk: tuple(rest) for pk, *rest in rows}


# --- The waterfall, one facility -----------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("repayments", "today", "expected"),
    [
        # Nothing paid: everything due is overdue since the first due date.
        ([], JUNE_15, ("313500.00", "0.00", "313500.00", 76)),
        # First installment paid on time, 50,000 towards the second: the second is the oldest
        # uncovered one (cumulative 209,500 > 155,000 repaid).
        (
            [(datetime.date(2025, 3, 31), "105000.00"), (datetime.date(2025, 5, 10), "50000.00")],
            JUNE_15,
            ("313500.00", "155000.00", "158500.00", 46),
        ),
        # Interest first: 5,000 covers the first installment's interest only; still uncovered.
        ([(datetime.date(2025, 4, 1), "5000.00")], JUNE_15, ("313500.00", "5000.00", "308500.00", 76)),
        # Everything paid late, on 10 June: nothing overdue on the 15th...
        ([(datetime.date(2025, 6, 10), "313500.00")], JUNE_15, ("313500.00", "313500.00", "0.00", 0)),
        # ...but on the 5th the payment has not arrived yet.
        (
            [(datetime.date(2025, 6, 10), "313500.00")],
            datetime.date(2025, 6, 5),
            ("313500.00", "0.00", "313500.00", 66),
        ),
        # A prepayment covers installments that fall due later, including the one on 30 June.
        ([(datetime.date(2025, 3, 1), "420000.00")], datetime.date(2025, 7, 1), ("417000.00", "420000.00", "0.00", 0)),
        # Due today counts as due, and is 0 days overdue.
        (
            [(datetime.date(2025, 3, 31), "105000.00")],
            datetime.date(2025, 4, 30),
            ("209500.00", "105000.00", "104500.00", 0),
        ),
        # Before the first due date nothing is due.
        ([], datetime.date(2025, 3, 30), ("0.00", "0.00", "0.00", 0)),
    ],
)
def test_overdue_follows_the_waterfall(scheduled, repayments, today, expected):
    add_repayments(scheduled, repayments)
    due, repaid, overdue, days = expected
    want = (D(due), D(repaid), D(overdue), days)

    assert figures(scheduled, today) == want
    assert set_based(today)[scheduled.pk] == want


@pytest.mark.django_db
def test_a_facility_without_schedule_is_never_overdue(facility):
    add_repayments(facility, [(datetime.date(2025, 2, 1), "1000.00")])

    assert figures(facility, JUNE_15) == (D("0.00"), D("1000.00"), D("0.00"), 0)
    assert set_based(JUNE_15)[facility.pk] == (D("0.00"), D("1000.00"), D("0.00"), 0)


@pytest.mark.django_db
def test_cents_that_add_up_exactly_cover_the_installment(facility):
    # On SQLite 100.10 + 200.20 summed as binary floats is not 300.30; the rule must not call
    # that a fraction of a fen overdue.
    add_installments(
        facility, [(datetime.date(2025, 2, 1), "100.00", "0.10"), (datetime.date(2025, 3, 1), "200.00", "0.20")]
    )
    add_repayments(facility, [(datetime.date(2025, 2, 1), "100.10"), (datetime.date(2025, 3, 1), "200.20")])

    assert figures(facility, JUNE_15) == (D("300.30"), D("300.30"), D("0.00"), 0)
    assert set_based(JUNE_15)[facility.pk] == (D("300.30"), D("300.30"), D("0.00"), 0)


@pytest.mark.django_db
def test_position_reports_each_installments_cover(scheduled):
    add_repayments(scheduled, [(datetime.date(2025, 4, 1), "110000.00")])

    position = selectors.facility_position(scheduled, today=JUNE_15)

    first, second, third, fourth = position.installments
    assert (first.interest_paid, first.principal_paid, first.covered) == (D("5000.00"), D("100000.00"), True)
    assert (second.interest_paid, second.principal_paid, second.remaining) == (D("4500.00"), D("500.00"), D("99500.00"))
    assert (third.interest_paid, fourth.principal_paid) == (D("0.00"), D("0.00"))
    assert position.principal_repaid == D("100500.00")
    assert position.oldest_unpaid_due == datetime.date(2025, 4, 30)


# --- Set-based == per facility, many facilities at once --------------------------------------------
MIXED = [
    ([], []),
    (SCHEDULE, []),
    (SCHEDULE, [(datetime.date(2025, 3, 31), "105000.00"), (datetime.date(2025, 5, 10), "50000.00")]),
    (SCHEDULE, [(datetime.date(2025, 2, 15), "420000.00")]),
    (SCHEDULE, [(datetime.date(2025, 4, 20), "104999.99"), (datetime.date(2025, 6, 1), "0.01")]),
    (SCHEDULE, [(datetime.date(2025, 6, 30), "417000.00")]),
    (SCHEDULE[:2], [(datetime.date(2025, 5, 5), "209500.00"), (datetime.date(2025, 5, 6), "10.00")]),
    ([(datetime.date(2025, 5, 1), "0.00", "1234.56")], [(datetime.date(2025, 5, 20), "1000.00")]),
]
DAYS = [
    datetime.date(2025, 3, 30),
    datetime.date(2025, 3, 31),
    datetime.date(2025, 4, 21),
    JUNE_15,
    datetime.date(2025, 7, 1),
]


@pytest.mark.django_db
def test_set_based_figures_equal_the_per_facility_ones(rm1):
    facilities = []
    for schedule, repayments in MIXED:
        facility = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
        add_installments(facility, schedule)
        add_repayments(facility, repayments)
        facilities.append(facility)

    for today in DAYS:
        expected = {f.pk: figures(f, today) for f in facilities}
        assert set_based(today) == expected, today
    # Not all trivially zero: the data set exercises both branches on some day.
    assert any(v[3] > 0 for v in set_based(JUNE_15).values())
    assert any(v[3] == 0 and v[0] > 0 for v in set_based(JUNE_15).values())


@pytest.mark.django_db
def test_annotation_is_one_query_for_many_facilities(rm1, django_assert_num_queries):
    for schedule, repayments in MIXED:
        facility = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
        add_installments(facility, schedule)
        add_repayments(facility, repayments)

    with django_assert_num_queries(1):
        rows = list(selectors.with_overdue(Facility.objects.all(), today=JUNE_15))

    assert len(rows) == len(MIXED)


@pytest.mark.django_db
def test_alert_question_more_than_n_days_overdue(rm1):
    on_time = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
    add_installments(on_time, SCHEDULE)
    add_repayments(on_time, [(datetime.date(2025, 6, 1), "313500.00")])
    late_46 = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
    add_installments(late_46, SCHEDULE)
    add_repayments(late_46, [(datetime.date(2025, 3, 31), "105000.00")])
    late_76 = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
    add_installments(late_76, SCHEDULE)

    def more_than(days: int) -> set[int]:
        return set(selectors.facilities_overdue_more_than(days, today=JUNE_15).values_list("pk", flat=True))

    assert more_than(0) == {late_46.pk, late_76.pk}
    assert more_than(45) == {late_46.pk, late_76.pk}
    assert more_than(46) == {late_76.pk}
    assert more_than(76) == set()


# --- schedule_set ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_schedule_set_replaces_only_the_future(facility, rm1):
    add_installments(facility, [(datetime.date(2025, 1, 31), "1000.00", "100.00")])
    RepaymentInstallment.objects.create(
        facility=facility, due_date=datetime.date(2025, 3, 31), principal=D("5.00"), interest=D("0.00")
    )

    with at(datetime.date(2025, 2, 10)):
        services.schedule_set(facility=facility, installments=SCHEDULE, by=rm1)

    dates = list(facility.installments.values_list("due_date", "principal"))
    assert dates == [(datetime.date(2025, 1, 31), D("1000.00"))] + [(d, p) for d, p, _ in SCHEDULE]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(datetime.date(2025, 3, 31), "-1.00", "0.00")], "2025-03-31: principal and interest cannot be negative."),
        (
            [(datetime.date(2025, 3, 31), "0.00", "0.00")],
            "2025-03-31: an installment must ask for some principal or interest.",
        ),
        (
            [(datetime.date(2025, 3, 31), "1.001", "0.00")],
            "2025-03-31: give amounts in whole fen (two decimal places).",
        ),
        (
            [(datetime.date(2025, 3, 31), "1.00", "0.00"), (datetime.date(2025, 3, 31), "2.00", "0.00")],
            "2025-03-31 appears more than once; give one installment per date.",
        ),
        ([(datetime.date(2028, 1, 1), "1.00", "0.00")], "2028-01-01: the facility matures on 2027-12-31."),
        (
            [(datetime.date(2025, 1, 5), "1.00", "0.00")],
            "2025-01-05: only installments due after today can be set; those already due stay as they are.",
        ),
        (
            [(datetime.date(2025, 3, 31), "600000.00", "0.00"), (datetime.date(2025, 4, 30), "399990.01", "0.00")],
            "The schedule's principal totals 1,000,000.01 CNY, more than the 1,000,000.00 CNY drawn.",
        ),
    ],
)
def test_schedule_set_refuses_an_invalid_schedule(facility, rm1, rows, message):
    add_installments(facility, [(datetime.date(2025, 1, 5), "10.00", "0.00")])
    with at(datetime.date(2025, 1, 10)), pytest.raises(ScheduleRefused) as refused:
        services.schedule_set(facility=facility, installments=rows, by=rm1)

    assert message in refused.value.problems
    assert list(facility.installments.values_list("due_date", flat=True)) == [datetime.date(2025, 1, 5)]


@pytest.mark.django_db
def test_schedule_set_refuses_dates_before_the_start(rm1, customer):
    facility = FacilityFactory(customer=customer)
    Facility.objects.filter(pk=facility.pk).update(start_date=datetime.date(2025, 9, 1))
    facility.refresh_from_db()

    with at(datetime.date(2025, 1, 10)), pytest.raises(ScheduleRefused) as refused:
        services.schedule_set(facility=facility, installments=[(datetime.date(2025, 8, 31), D("1"), D("0"))], by=rm1)

    assert refused.value.problems == ["2025-08-31: the facility starts on 2025-09-01."]


@pytest.mark.django_db
def test_principal_already_due_counts_towards_the_drawn_amount(facility, rm1):
    add_installments(facility, [(datetime.date(2025, 1, 5), "999999.00", "0.00")])

    with at(datetime.date(2025, 1, 10)), pytest.raises(ScheduleRefused) as refused:
        services.schedule_set(facility=facility, installments=[(datetime.date(2025, 3, 1), D("1.01"), D("0"))], by=rm1)

    assert refused.value.problems == [
        "The schedule's principal totals 1,000,000.01 CNY, more than the 1,000,000.00 CNY drawn."
    ]


@pytest.mark.django_db
def test_the_database_refuses_negative_amounts_and_duplicate_dates(facility):
    day = datetime.date(2025, 3, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        RepaymentInstallment.objects.create(facility=facility, due_date=day, principal=D("-1"), interest=D("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Repayment.objects.create(facility=facility, received_on=day, amount=D("0"), entered_by=facility.created_by)
    RepaymentInstallment.objects.create(facility=facility, due_date=day, principal=D("1"), interest=D("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        RepaymentInstallment.objects.create(facility=facility, due_date=day, principal=D("2"), interest=D("0"))


# --- repayment_record and outstanding --------------------------------------------------------------
@pytest.mark.django_db
def test_outstanding_falls_by_the_principal_the_waterfall_covers(facility, rm1):
    with at(datetime.date(2025, 1, 10)):
        services.schedule_set(facility=facility, installments=SCHEDULE, by=rm1)

    with at(datetime.date(2025, 4, 1)):
        # Interest of the first installment first: principal untouched.
        services.repayment_record(facility=facility, received_on=datetime.date(2025, 4, 1), amount=D("5000.00"), by=rm1)
        assert facility.outstanding == D("1000000.00")
        repayment = services.repayment_record(
            facility=facility,
            received_on=datetime.date(2025, 4, 1),
            amount=D("105000.00"),
            reference=" BOC-778 ",
            by=rm1,
        )
    facility.refresh_from_db()
    # 100,000 principal of the first installment, 4,500 interest of the second, 500 principal.
    assert facility.outstanding == D("899500.00")
    assert (repayment.reference, repayment.entered_by) == ("BOC-778", rm1)


@pytest.mark.django_db
def test_money_beyond_the_schedule_pays_down_unscheduled_principal(facility, rm1):
    with at(datetime.date(2025, 2, 1)):
        services.repayment_record(
            facility=facility, received_on=datetime.date(2025, 2, 1), amount=D("250000.00"), by=rm1
        )
        facility.refresh_from_db()
        assert facility.outstanding == D("750000.00")
        services.repayment_record(
            facility=facility, received_on=datetime.date(2025, 2, 1), amount=D("800000.00"), by=rm1
        )
    facility.refresh_from_db()
    assert facility.outstanding == D("0.00")  # the 50,000 overpaid covers nothing


@pytest.mark.django_db
def test_a_new_schedule_keeps_outstanding_in_step(facility, rm1):
    with at(datetime.date(2025, 2, 1)):
        services.repayment_record(
            facility=facility, received_on=datetime.date(2025, 2, 1), amount=D("105000.00"), by=rm1
        )
        facility.refresh_from_db()
        assert facility.outstanding == D("895000.00")  # no schedule: all of it was principal
        services.schedule_set(facility=facility, installments=SCHEDULE, by=rm1)
    facility.refresh_from_db()
    assert facility.outstanding == D("900000.00")  # 5,000 of it now pays the first interest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("received_on", "amount", "message"),
    [
        (datetime.date(2025, 6, 1), "0.00", "The amount must be more than zero."),
        (datetime.date(2025, 6, 1), "-5.00", "The amount must be more than zero."),
        (datetime.date(2025, 6, 1), "5.005", "Give the amount in whole fen (two decimal places)."),
        (datetime.date(2025, 6, 16), "5.00", "The date received cannot be in the future."),
        (datetime.date(2024, 12, 31), "5.00", "The date received is before the facility started on 2025-01-01."),
    ],
)
def test_repayment_record_refuses(facility, rm1, received_on, amount, message):
    with at(JUNE_15), pytest.raises(RepaymentRefused) as refused:
        services.repayment_record(facility=facility, received_on=received_on, amount=D(amount), by=rm1)

    assert refused.value.problems == [message]
    assert not Repayment.objects.exists()
    facility.refresh_from_db()
    assert facility.outstanding == D("1000000.00")


@pytest.mark.django_db
def test_today_is_the_shanghai_date(facility, rm1):
    # 00:30 on 16 June in Shanghai is still 15 June in UTC: money received on the 16th is today.
    with at(datetime.date(2025, 6, 16), hour=0):
        services.repayment_record(facility=facility, received_on=datetime.date(2025, 6, 16), amount=D("1.00"), by=rm1)

    assert Repayment.objects.get().received_on == datetime.date(2025, 6, 16)


# --- Two repayments at the same moment ------------------------------------------------------------
def hold_facility_lock(facility: Facility) -> None:
    """Inside an open transaction of the test thread, take the lock repayment_record needs.
    On SQLite the transaction's BEGIN IMMEDIATE already holds the database write lock."""
    if connection.vendor == "postgresql":
        Facility.objects.select_for_update().get(pk=facility.pk)
    else:
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_repayments_both_reduce_outstanding(rm1, customer, lock_waiters):
    facility = FacilityFactory(customer=customer)
    errors: list[BaseException] = []

    def record(amount: str) -> None:
        try:
            services.repayment_record(facility=facility, received_on=JUNE_15, amount=D(amount), by=rm1)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record, args=(a,)) for a in ("100000.00", "30000.00")]
    with at(JUNE_15):
        with transaction.atomic():
            hold_facility_lock(facility)
            for t in threads:
                t.start()
            # Both recorders would read the facility before either writes, but the lock queues them.
            lock_waiters.wait(len(threads))
            lock_waiters.letting_go()
        for t in threads:
            t.join(timeout=30)
    lock_waiters.assert_waited()

    assert errors == []
    facility.refresh_from_db()
    assert Repayment.objects.filter(facility=facility).count() == 2
    assert facility.outstanding == D("870000.00")


# --- Admin ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_admin_changelist_shows_overdue_columns(client, admin_user, rm1, django_assert_max_num_queries):
    for _ in range(10):
        facility = FacilityFactory(customer=CustomerFactory(owner=rm1, team=rm1.team))
        add_installments(facility, SCHEDULE)
        add_repayments(facility, [(datetime.date(2025, 3, 31), "105000.00")])
    client.force_login(admin_user)

    with at(JUNE_15), django_assert_max_num_queries(8):
        response = client.get("/admin/risk/facility/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Days overdue" in html and "Amount overdue (CNY)" in html
    assert html.count('<td class="field-days_overdue">46</td>') == 10
    assert html.count('<td class="field-amount_overdue">208500.00</td>') == 10


@pytest.mark.django_db
def test_admin_records_a_repayment_and_shows_it_read_only(client, admin_user, scheduled):
    client.force_login(admin_user)
    url = f"/admin/risk/facility/{scheduled.pk}/change/"
    with at(JUNE_15):
        page = client.get(url)
        assert page.status_code == 200
        data = {
            "granted_limit": "1200000.00",
            "drawn": "1000000.00",
            "start_date": "2025-01-01",
            "maturity_date": "2027-12-31",
            "installments-TOTAL_FORMS": "4",
            "installments-INITIAL_FORMS": "4",
            "installments-MIN_NUM_FORMS": "0",
            "installments-MAX_NUM_FORMS": "1000",
            "repayments-TOTAL_FORMS": "1",
            "repayments-INITIAL_FORMS": "0",
            "repayments-MIN_NUM_FORMS": "0",
            "repayments-MAX_NUM_FORMS": "1000",
            "repayments-0-received_on": "2025-06-01",
            "repayments-0-amount": "110000.00",
            "repayments-0-reference": "ICBC-1",
            "repayments-0-facility": str(scheduled.pk),
        }
        response = client.post(url, data)
        assert response.status_code == 302, response.context["errors"] if response.context else response
        future = client.post(url, {**data, "repayments-0-received_on": "2025-06-16"})
        again = client.get(url)

    repayment = Repayment.objects.get()
    assert (repayment.amount, repayment.reference, repayment.entered_by) == (D("110000.00"), "ICBC-1", admin_user)
    scheduled.refresh_from_db()
    assert scheduled.outstanding == D("899500.00")
    assert future.status_code == 200
    assert "The date received cannot be in the future." in future.content.decode()
    # The saved row is shown, not offered as an input.
    assert 'name="repayments-0-amount"' not in again.content.decode()
