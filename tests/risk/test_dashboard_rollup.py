"""The risk dashboard's monthly rollup (``RiskMonth``): exact figures on a hand-made portfolio,
the three levels, scoping per role, idempotence and the snapshots of past months.

The portfolio, with "now" = 2026-04-15 12:00 in Shanghai:

rm1 (East), customer tier A
    F1 outstanding 1,000,000.00 — installments 02-28 105,000.50 · 03-31 104,500.25 ·
        04-10 104,000.00 · 04-30 103,500.00 (not yet due); repaid 02-27 105,000.50 ·
        03-31 50,000.00 · 04-02 30,000.10 → overdue (313,500.75 due so far, 185,000.60 repaid)
rm1 (East), a second customer, tier AA
    F5 outstanding 300,000.00 — no schedule: not overdue, not B
rm2 (East), customer tier B
    F2 outstanding 500,000.00 — 03-15 51,000.00, repaid the same day: not overdue
    F3 outstanding 200,000.00 — 04-01 20,000.00, nothing repaid: overdue AND tier B (counted once)
rm_west (West), customer tier AA
    F4 outstanding 300,000.00 — no schedule

Alerts: rm1's customer 2026-03-31 15:00 UTC (23:00 March 31st in Shanghai) and 17:00 UTC
(01:00 April 1st in Shanghai); west 2026-04-03. Deals screened: rm1 approved 04-05, lost from
preliminary 04-06, funded 03-10; rm_west approved 2024-01-10 (outside the 24 months kept).
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext

from crm.scope import Scope
from customers.models import Customer
from funnel.models import Stage
from risk.dashboard import (
    MONTHS_KEPT,
    TIERS,
    exposure_by_tier,
    risk_report,
    rollup_rebuild,
    rollup_repayment_add,
    rollup_rows,
)
from risk.models import Alert, Facility, RiskMonth
from risk.selectors import with_overdue
from tests.factories import (
    AlertFactory,
    AlertRuleFactory,
    CustomerFactory,
    DealFactory,
    FacilityFactory,
    add_installments,
    add_repayments,
)

pytestmark = pytest.mark.django_db

D = Decimal
NOW = datetime(2026, 4, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
FEB, MAR, APR = date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def tiered(customer, tier: str) -> Customer:
    Customer.objects.filter(pk=customer.pk).update(tier=tier)
    customer.refresh_from_db()
    return customer


def facility(customer, outstanding: str) -> Facility:
    return FacilityFactory(customer=customer, drawn=D(outstanding))


def alert(customer, opened_at: datetime) -> Alert:
    return AlertFactory(customer=customer, rule=AlertRuleFactory(severity="warning"), opened_at=opened_at)


def screened(customer, stage: str, rank: int, at: datetime):
    return DealFactory(
        customer=customer,
        stage=stage,
        max_rank=rank,
        screened_at=at,
        lost_reason="credit" if stage == Stage.LOST else "",
    )


@pytest.fixture
def portfolio(now, customer, other_customer, west_customer, rm1):
    a, b, aa_west = tiered(customer, "A"), tiered(other_customer, "B"), tiered(west_customer, "AA")
    aa = tiered(CustomerFactory(owner=rm1, team=rm1.team, name="华东第二客户有限公司"), "AA")

    f1 = facility(a, "1000000.00")
    add_installments(
        f1,
        [
            (date(2026, 2, 28), "100000.00", "5000.50"),
            (date(2026, 3, 31), "100000.00", "4500.25"),
            (date(2026, 4, 10), "100000.00", "4000.00"),
            (date(2026, 4, 30), "100000.00", "3500.00"),
        ],
    )
    add_repayments(
        f1, [(date(2026, 2, 27), "105000.50"), (date(2026, 3, 31), "50000.00"), (date(2026, 4, 2), "30000.10")]
    )
    facility(aa, "300000.00")

    f2 = facility(b, "500000.00")
    add_installments(f2, [(date(2026, 3, 15), "50000.00", "1000.00")])
    add_repayments(f2, [(date(2026, 3, 15), "51000.00")])
    f3 = facility(b, "200000.00")
    add_installments(f3, [(date(2026, 4, 1), "20000.00", "0.00")])

    facility(aa_west, "300000.00")

    alert(a, datetime(2026, 3, 31, 15, tzinfo=UTC))
    alert(a, datetime(2026, 3, 31, 17, tzinfo=UTC))
    alert(aa_west, datetime(2026, 4, 3, 2, tzinfo=UTC))

    screened(a, Stage.APPROVED, 4, datetime(2026, 4, 5, 2, tzinfo=UTC))
    screened(a, Stage.LOST, 2, datetime(2026, 4, 6, 2, tzinfo=UTC))
    screened(a, Stage.FUNDED, 5, datetime(2026, 3, 10, 2, tzinfo=UTC))
    screened(aa_west, Stage.APPROVED, 4, datetime(2024, 1, 10, 2, tzinfo=UTC))

    rollup_rebuild()
    return {"a": a, "b": b, "aa": aa, "west": aa_west, "f1": f1, "f2": f2, "f3": f3}


FIGURES = (
    "due",
    "repaid",
    "exposure",
    "exposure_b",
    "exposure_overdue",
    "exposure_aa",
    "exposure_a",
    "exposure_unrated",
    "facilities_aa",
    "facilities_a",
    "facilities_b",
    "facilities_unrated",
    "alerts_new",
    "screened",
    "screened_funded",
)


def row(month: date, **level) -> dict:
    return RiskMonth.objects.filter(month=month, **level).values(*FIGURES).get()


def owner_row(user, month: date) -> dict:
    return row(month, owner_id=user.pk, team_id=user.team_id)


# --- The figures ------------------------------------------------------------------------------
def test_due_and_repaid_fall_in_the_month_of_the_installment_and_the_repayment(portfolio, rm1, rm2):
    assert (owner_row(rm1, FEB)["due"], owner_row(rm1, FEB)["repaid"]) == (D("105000.50"), D("105000.50"))
    assert (owner_row(rm1, MAR)["due"], owner_row(rm1, MAR)["repaid"]) == (D("104500.25"), D("50000.00"))
    assert (owner_row(rm2, MAR)["due"], owner_row(rm2, MAR)["repaid"]) == (D("51000.00"), D("51000.00"))
    assert (owner_row(rm2, APR)["due"], owner_row(rm2, APR)["repaid"]) == (D("20000.00"), D("0.00"))
    assert isinstance(owner_row(rm1, MAR)["due"], Decimal)


def test_this_month_counts_only_installments_already_due(portfolio, rm1):
    # 04-10 is due; 04-30 is not yet: a month in progress is not held down by it.
    assert owner_row(rm1, APR)["due"] == D("104000.00")
    assert owner_row(rm1, APR)["repaid"] == D("30000.10")


def test_exposure_splits_tier_b_and_overdue_and_counts_each_facility_once(portfolio, rm1, rm2, rm_west):
    # rm1: F1 overdue (tier A) and F5 fine.
    rm1_row = owner_row(rm1, APR)
    assert (rm1_row["exposure"], rm1_row["exposure_b"], rm1_row["exposure_overdue"]) == (
        D("1300000.00"),
        D("0.00"),
        D("1000000.00"),
    )
    # rm2: both facilities tier B; F3 is also overdue but is not counted twice.
    rm2_row = owner_row(rm2, APR)
    assert (rm2_row["exposure"], rm2_row["exposure_b"], rm2_row["exposure_overdue"]) == (
        D("700000.00"),
        D("700000.00"),
        D("0.00"),
    )
    west = owner_row(rm_west, APR)
    assert (west["exposure"], west["exposure_b"], west["exposure_overdue"]) == (D("300000.00"), D("0.00"), D("0.00"))


def test_overdue_exposure_agrees_with_the_overdue_rule_of_the_selectors(portfolio):
    today = date(2026, 4, 15)
    overdue = with_overdue(Facility.objects.exclude(customer__tier="B"), today=today).filter(amount_overdue__gt=0)
    expected = overdue.aggregate(total=Sum("outstanding"))["total"]
    assert row(APR, owner_id=None, team_id=None)["exposure_overdue"] == expected == D("1000000.00")


def test_exposure_is_a_snapshot_of_this_month_only(portfolio, rm1):
    # The flows of February and March are recomputed, but nobody observed their exposure.
    assert owner_row(rm1, MAR)["exposure"] is None
    assert owner_row(rm1, FEB)["exposure"] is None


def test_alerts_go_to_the_shanghai_month_they_were_opened_in(portfolio, rm1, rm_west):
    assert owner_row(rm1, MAR)["alerts_new"] == 1  # 23:00 on March 31st in Shanghai
    assert owner_row(rm1, APR)["alerts_new"] == 1  # 01:00 on April 1st in Shanghai
    assert owner_row(rm_west, APR)["alerts_new"] == 1


def test_screening_counts_decisions_and_those_that_reached_approved(portfolio, rm1, rm_west):
    assert (owner_row(rm1, APR)["screened"], owner_row(rm1, APR)["screened_funded"]) == (2, 1)
    assert (owner_row(rm1, MAR)["screened"], owner_row(rm1, MAR)["screened_funded"]) == (1, 1)
    # Screened more than 24 months ago: no row at all for that month.
    assert not RiskMonth.objects.filter(month__lt=date(2024, 5, 1)).exists()
    assert RiskMonth.objects.filter(owner_id=rm_west.pk).aggregate(n=Sum("screened"))["n"] == 0


def test_months_kept_are_the_last_twenty_four(portfolio):
    months = set(RiskMonth.objects.values_list("month", flat=True))
    assert min(months) >= date(2024, 5, 1)
    assert max(months) == APR
    assert MONTHS_KEPT == 24


# --- Levels and scope -------------------------------------------------------------------------
def totals(**level) -> list[tuple]:
    return sorted(
        RiskMonth.objects.filter(**level)
        .values("month")
        .annotate(**{f"s_{name}": Sum(name) for name in FIGURES})
        .values_list("month", *(f"s_{name}" for name in FIGURES))
    )


# --- Exposure by tier (the dashboard panel reads the snapshot, issue #14) ----------------------
def live_by_tier(customers) -> list[tuple]:
    """What the panel computed live before issue #14: the customers joined to their facilities
    with anything outstanding, grouped by the customer's tier now."""
    totals = {
        r["tier"]: (r["n"], r["outstanding"])
        for r in customers.filter(facilities__outstanding__gt=0)
        .order_by()
        .values("tier")
        .annotate(n=Count("facilities"), outstanding=Sum("facilities__outstanding"))
    }
    return [(tier.value, *totals.get(tier, (0, D("0.00")))) for tier in TIERS]


def snapshot_by_tier(scope: Scope) -> list[tuple] | None:
    tiers = exposure_by_tier(rollup_rows(scope), today=date(2026, 4, 15))
    return None if tiers is None else [(t.tier, t.facilities, t.outstanding) for t in tiers]


@pytest.fixture
def unrated(portfolio, rm2):
    """An unrated customer of rm2's with one facility outstanding and one repaid in full (not
    counted: the panel counts facilities with anything outstanding)."""
    customer = tiered(CustomerFactory(owner=rm2, team=rm2.team), "unrated")
    facility(customer, "250000.00")
    facility(customer, "0.00")
    rollup_rebuild()
    return customer


def test_snapshot_by_tier_equals_the_live_join_at_every_level(
    unrated, rm1, rm2, rm_west, manager, risk_officer, team, other_team
):
    firm = snapshot_by_tier(Scope.of(risk_officer))
    assert firm == [
        ("AA", 2, D("600000.00")),
        ("A", 1, D("1000000.00")),
        ("B", 2, D("700000.00")),
        ("unrated", 1, D("250000.00")),
    ]
    assert firm == live_by_tier(Customer.objects.all())
    for user in (rm1, rm2, rm_west):
        assert snapshot_by_tier(Scope.of(user)) == live_by_tier(Customer.objects.filter(owner=user)), user
    assert snapshot_by_tier(Scope.of(manager)) == live_by_tier(Customer.objects.filter(team=team))
    narrowed = Scope.of(risk_officer).narrowed_to(other_team)
    assert snapshot_by_tier(narrowed) == live_by_tier(Customer.objects.filter(team=other_team))
    # Tier B's outstanding is the portfolio risk's exposure_b: one figure, not two.
    assert row(APR, owner_id=None, team_id=None)["exposure_b"] == D("700000.00")


def test_shares_of_the_snapshot_add_up_to_the_whole(unrated, risk_officer):
    tiers = exposure_by_tier(rollup_rows(Scope.of(risk_officer)), today=date(2026, 4, 15))
    assert [t.share for t in tiers] == [D("23.5"), D("39.2"), D("27.5"), D("9.8")]
    assert [str(t.label) for t in tiers] == ["Tier AA", "Tier A", "Tier B", "Unrated"]


def test_an_rm_with_customers_in_two_teams_gets_both_in_the_snapshot(portfolio, rm1, other_team):
    Customer.objects.filter(pk=portfolio["aa"].pk).update(team=other_team)
    rollup_rebuild()
    assert snapshot_by_tier(Scope.of(rm1)) == live_by_tier(Customer.objects.filter(owner=rm1))
    assert snapshot_by_tier(Scope.of(rm1))[0] == ("AA", 1, D("300000.00"))


def test_a_tier_change_moves_the_exposure_at_the_next_rebuild_only(portfolio, rm1, manager):
    """The snapshot is as of the rebuild (the page says when): a customer downgraded from A to
    B after it stays under A until the next one, up to 30 minutes later."""
    tiered(portfolio["a"], "B")
    before = snapshot_by_tier(Scope.of(rm1))
    assert before[1] == ("A", 1, D("1000000.00")) and before[2] == ("B", 0, D("0.00"))
    rollup_rebuild()
    after = snapshot_by_tier(Scope.of(rm1))
    assert after[1] == ("A", 0, D("0.00")) and after[2] == ("B", 1, D("1000000.00"))
    assert snapshot_by_tier(Scope.of(manager)) == live_by_tier(Customer.objects.filter(team=manager.team))


def test_repayments_booked_after_the_rebuild_leave_the_snapshot_whole(portfolio, rm1, manager, risk_officer):
    scopes = [Scope.of(rm1), Scope.of(manager), Scope.of(risk_officer)]
    before = [snapshot_by_tier(scope) for scope in scopes]
    assert rollup_repayment_add(facility_id=portfolio["f1"].pk, received_on=date(2026, 4, 14), amount=D("500.00")) == 3
    assert rollup_repayment_add(facility_id=portfolio["f3"].pk, received_on=date(2026, 3, 31), amount=D("70.00")) == 3
    # The delta rows hold no snapshot: summed with the rebuilt rows, they change nothing.
    assert RiskMonth.objects.filter(facilities_aa=None, exposure=None, repaid=D("500.00")).count() == 3
    assert [snapshot_by_tier(scope) for scope in scopes] == before
    assert risk_report(Scope.of(rm1), today=date(2026, 4, 15)).snapshot.repaid == D("30500.10")


def test_no_snapshot_by_tier_before_the_first_rebuild(now, customer, rm1, risk_officer):
    facility(tiered(customer, "A"), "1000.00")
    assert snapshot_by_tier(Scope.of(risk_officer)) is None
    rollup_repayment_add(facility_id=Facility.objects.get().pk, received_on=date(2026, 4, 1), amount=D("1.00"))
    assert snapshot_by_tier(Scope.of(rm1)) is None  # a delta row is no snapshot


def test_snapshots_taken_before_the_tier_columns_read_as_none(now, customer, rm1):
    """Rows written before migration 0010 hold exposure but no tiers: "not measured", not zero."""
    RiskMonth.objects.create(month=APR, owner_id=rm1.pk, team_id=rm1.team_id, exposure=D("5.00"))
    assert snapshot_by_tier(Scope.of(rm1)) is None


def test_in_the_first_minutes_of_a_month_the_last_snapshot_stands(now, customer, rm1):
    """Between midnight on the 1st and the month's first rebuild the panel shows the last
    snapshot (of the month before) rather than nothing; the page says when it was taken."""
    facility(tiered(customer, "AA"), "1000.00")
    now.move_to(datetime(2026, 3, 31, 15, 45, tzinfo=UTC))  # 23:45 in Shanghai
    rollup_rebuild()
    tiers = exposure_by_tier(rollup_rows(Scope.of(rm1)), today=date(2026, 4, 1))
    assert (tiers[0].facilities, tiers[0].outstanding) == (1, D("1000.00"))


def test_the_three_levels_add_up(portfolio):
    owners = totals(owner_id__isnull=False)
    assert totals(owner_id__isnull=True, team_id__isnull=False) == owners
    assert totals(owner_id__isnull=True, team_id__isnull=True) == owners
    firm = row(APR, owner_id=None, team_id=None)
    assert (firm["exposure"], firm["exposure_b"], firm["exposure_overdue"]) == (
        D("2300000.00"),
        D("700000.00"),
        D("1000000.00"),
    )


def test_team_row_holds_the_team_only(portfolio, team):
    east = row(APR, owner_id=None, team_id=team.pk)
    assert (east["exposure"], east["exposure_b"], east["exposure_overdue"]) == (
        D("2000000.00"),
        D("700000.00"),
        D("1000000.00"),
    )
    assert east["alerts_new"] == 1


def test_rm_reads_only_own_rows(portfolio, rm1, rm2):
    assert set(rollup_rows(Scope.of(rm1)).values_list("owner_id", flat=True)) == {rm1.pk}
    snapshot = risk_report(Scope.of(rm1), today=date(2026, 4, 15)).snapshot
    assert snapshot.exposure == D("1300000.00")
    assert snapshot.exposure_b == D("0.00")
    assert risk_report(Scope.of(rm2), today=date(2026, 4, 15)).snapshot.exposure == D("700000.00")


def test_manager_reads_the_team_row_and_risk_the_firm(portfolio, manager, risk_officer, other_team):
    assert risk_report(Scope.of(manager), today=date(2026, 4, 15)).snapshot.exposure == D("2000000.00")
    assert risk_report(Scope.of(risk_officer), today=date(2026, 4, 15)).snapshot.exposure == D("2300000.00")
    narrowed = risk_report(Scope.of(risk_officer).narrowed_to(other_team), today=date(2026, 4, 15))
    assert narrowed.snapshot.exposure == D("300000.00")


def test_rm_with_customers_in_two_teams_sees_both(portfolio, rm1, other_team):
    Customer.objects.filter(pk=portfolio["aa"].pk).update(team=other_team)
    rollup_rebuild()
    assert RiskMonth.objects.filter(owner_id=rm1.pk, month=APR).count() == 2
    assert risk_report(Scope.of(rm1), today=date(2026, 4, 15)).snapshot.exposure == D("1300000.00")


# --- The rebuild ------------------------------------------------------------------------------
def rows() -> list[tuple]:
    return sorted(RiskMonth.objects.values_list("month", "owner_id", "team_id", *FIGURES), key=repr)


def test_rebuilding_twice_gives_the_same_rows(portfolio):
    first = rows()
    result = rollup_rebuild()
    assert rows() == first
    assert result["rows"] == len(first) == RiskMonth.objects.count()
    assert len(first) > 10


def test_rebuild_follows_new_repayments(portfolio, rm1):
    add_repayments(portfolio["f1"], [(date(2026, 4, 14), "128500.15")])  # now nothing overdue
    rollup_rebuild()
    assert owner_row(rm1, APR)["repaid"] == D("158500.25")
    assert owner_row(rm1, APR)["exposure_overdue"] == D("0.00")


def test_a_past_month_keeps_the_snapshot_taken_in_it(now, customer, rm1):
    f = facility(tiered(customer, "B"), "800000.00")
    now.move_to(datetime(2026, 3, 20, 4, tzinfo=UTC))
    rollup_rebuild()
    assert owner_row(rm1, MAR)["exposure_b"] == D("800000.00")

    Facility.objects.filter(pk=f.pk).update(outstanding=D("600000.00"))
    Customer.objects.filter(pk=customer.pk).update(tier="A")
    now.move_to(NOW)
    rollup_rebuild()
    rollup_rebuild()  # and again: carried over, not lost or doubled
    march, april = owner_row(rm1, MAR), owner_row(rm1, APR)
    assert (march["exposure"], march["exposure_b"]) == (D("800000.00"), D("800000.00"))
    assert (april["exposure"], april["exposure_b"]) == (D("600000.00"), D("0.00"))
    # By tier as well: March keeps its tier-B facility, April has it as tier A.
    assert (march["facilities_b"], march["facilities_a"], march["exposure_a"]) == (1, 0, D("0.00"))
    assert (april["facilities_b"], april["facilities_a"], april["exposure_a"]) == (0, 1, D("600000.00"))
    # The team and firm rows carry it too.
    assert row(MAR, owner_id=None, team_id=None)["exposure_b"] == D("800000.00")
    assert row(MAR, owner_id=None, team_id=None)["facilities_b"] == 1


def test_rebuild_costs_the_same_queries_whatever_the_portfolio(now, customer, rm1):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            rollup_rebuild()
        return len(captured.captured_queries)

    f = facility(customer, "1000.00")
    add_installments(f, [(date(2026, 3, 1), "10.00", "1.00")])
    few = queries()
    for n in range(30):
        more = facility(CustomerFactory(owner=rm1, team=rm1.team), f"{1000 + n}.00")
        add_installments(more, [(date(2026, 1, 1 + n % 28), "10.00", "1.00"), (date(2026, 4, 1), "5.00", "0.50")])
        add_repayments(more, [(date(2026, 2, 1), "11.00")])
    assert queries() == few
    assert owner_row(rm1, APR)["exposure"] == D("1000.00") + sum(D(f"{1000 + n}.00") for n in range(30))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rebuild_outside_a_transaction_is_idempotent(customer):
    """Outside a test transaction, so PostgreSQL takes the REPEATABLE READ and table-lock path
    as in production."""
    f = facility(customer, "1000.00")
    add_installments(f, [(date.today().replace(day=1), "10.00", "1.00")])
    rollup_rebuild()
    first = rows()
    rollup_rebuild()
    assert rows() == first
    assert RiskMonth.objects.filter(owner_id=None, team_id=None, exposure=D("1000.00")).count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_second_rebuild_waits_for_the_first_and_replaces_its_rows(customer, lock_waiters):
    """Should two rebuilds ever meet (the job lock keeps them apart), the second waits for the
    first to commit (PostgreSQL: a table lock; SQLite: one writer at a time) and then replaces
    its rows, instead of failing on them or keeping both sets."""
    import threading

    from django.db import connections, transaction

    facility(customer, "1000.00")
    rollup_rebuild()
    expected = rows()
    first_done, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def first():
        try:
            with transaction.atomic():
                rollup_rebuild()
                first_done.set()
                release.wait(10)  # still uncommitted while the second one starts
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def second():
        try:
            rollup_rebuild()
            second_done.set()
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_done.wait(10)
    threads[1].start()
    try:
        lock_waiters.wait(1)  # the second rebuild waits for the first
        assert not second_done.is_set()
    finally:
        lock_waiters.letting_go()
        release.set()
    for thread in threads:
        thread.join(30)
    lock_waiters.assert_waited()
    assert not errors
    assert second_done.is_set()
    assert rows() == expected


def test_the_beat_task_rebuilds_and_stamps_the_time_the_page_shows(portfolio):
    """The page's "as of" is the finish time of the task's job lock (risk.views.dashboard)."""
    from crm.models import JobLock
    from risk.tasks import risk_rollup_rebuild
    from risk.views.dashboard import ROLLUP_JOB

    first = rows()
    result = risk_rollup_rebuild()
    assert "skipped" not in result
    assert result["rows"] == len(first)
    assert rows() == first
    assert JobLock.objects.get(name=ROLLUP_JOB).last_finished_at == NOW
