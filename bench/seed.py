"""Bench data: teams and users, customers spread over their RMs, deals and each deal's stage
moves, and a monitored loan book — facilities with installments and repayments. Used by
bench/pages.py and bench/alerts.py; PostgreSQL only.

Customers come from bench/regrade.py's generator and COPY (unchanged; only the owner, team and
creation date of each row are replaced on the way). Deals and moves are made inside PostgreSQL
by set-based SQL from ``generate_series``: one temporary plan row per deal (its path through the
funnel and the days it spent in each stage), then one INSERT … SELECT for the deals and one for
the moves, so the timeline, ``max_rank``, ``screened_at``, ``closed_at`` and
``days_in_from_stage`` all agree with what funnel.services would have written.

The loan book (``facilities()``) is set-based too: a funded deal for every facility beyond those
the pipeline funded, one facility per funded deal, twelve monthly installments each, repayments
for those already due (most on time, 5 % late, 3 % of facilities stopped paying).
``monitored()`` first makes the customers look like a portfolio under monitoring, and
``deteriorate()`` afterwards gives 2 % of them a worse credit report, so that an alert evaluation
has something realistic to find. ``portfolio()`` runs the whole sequence.
"""

import random
import time
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from bench import regrade as base
from crm.models import Team, User
from crm.roles import Role
from customers.models import Customer, Grade, GradeReason
from customers.regrade import regrade
from funnel.models import (
    OPEN_STAGES,
    RANK,
    Deal,
    FunnelRollup,
    LostReason,
    ProjectType,
    RollupRun,
    Stage,
    StageMove,
    StageSetting,
)
from risk.models import Alert, AlertCondition, AlertEvent, Facility, Repayment, RepaymentInstallment, RiskMonth

PREFIX = "bench-pages"  # team and user names carry it, so a re-run finds them
PASSWORD = "bench-pages-password"  # noqa: S105 (a bench database's users, to look around by hand)
TEAMS = 20
RMS_PER_TEAM = 10
SEED = base.SEED + 1

# The mix of deals. Open deals sit in one of the four open stages; closed ones were funded after
# passing every stage or lost from the stage they had reached.
OPEN_SHARE = 0.25
FUNDED_SHARE_OF_CLOSED = 0.30
OPEN_RANK_CUTS = [0.40, 0.65, 0.85]  # prospect 40 %, preliminary 25 %, due diligence 20 %, approved 15 %
LOST_RANK_CUTS = [0.45, 0.75, 0.93]  # lost from prospect 45 %, preliminary 30 %, due diligence 18 %, approved 7 %
HISTORY_DAYS = 3 * 365  # closed deals were created over the last three years
AMOUNT_MIN, AMOUNT_MAX = 5_000_000, 2_000_000_000  # CNY, log-uniform


ALERT_TABLES = [m._meta.db_table for m in (Alert, AlertCondition, AlertEvent)]
RISK_TABLES = [m._meta.db_table for m in (Facility, RepaymentInstallment, Repayment, RiskMonth)] + ALERT_TABLES


@dataclass
class Timings:
    """Named steps and their seconds, printed as they finish."""

    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"  {name} …", end="", flush=True)
        started = time.perf_counter()
        yield
        self.steps[name] = time.perf_counter() - started
        print(f" {self.steps[name]:.1f} s", flush=True)


@dataclass
class Staff:
    rms: list[User]
    managers: dict[int, User]  # team id -> its team manager
    risk_officer: User
    admin: User


# --- users --------------------------------------------------------------------------------------
def staff() -> Staff:
    """20 teams of 10 RMs and one team manager each, a risk officer and an admin (no team; the
    admin is a superuser in the Admin group, as seed_demo makes one). Created once, found again
    on later runs."""
    rm_group = Group.objects.get(name=Role.RELATIONSHIP_MANAGER.value)
    tm_group = Group.objects.get(name=Role.TEAM_MANAGER.value)
    password = make_password(PASSWORD)  # hashed once: 220 PBKDF2 rounds would take a minute
    rms: list[User] = []
    managers: dict[int, User] = {}
    with transaction.atomic():
        for t in range(1, TEAMS + 1):
            team, _ = Team.objects.get_or_create(name=f"{PREFIX} team {t:02d}")
            manager = _user(f"{PREFIX}-tm-{t:02d}", team, tm_group, password)
            managers[team.pk] = manager
            for r in range(1, RMS_PER_TEAM + 1):
                rms.append(_user(f"{PREFIX}-rm-{t:02d}-{r:02d}", team, rm_group, password))
        risk_officer = _user(f"{PREFIX}-risk", None, Group.objects.get(name=Role.RISK_OFFICER.value), password)
        admin = _user(f"{PREFIX}-admin", None, Group.objects.get(name=Role.ADMIN.value), password, superuser=True)
    return Staff(rms=rms, managers=managers, risk_officer=risk_officer, admin=admin)


def _user(username: str, team: Team | None, group: Group, password: str, *, superuser: bool = False) -> User:
    defaults = {"team": team, "password": password, "is_superuser": superuser, "is_staff": superuser}
    user, created = User.objects.get_or_create(username=username, defaults=defaults)
    if created:
        user.groups.add(group)
    return user


# --- wiping -------------------------------------------------------------------------------------
def wipe() -> None:
    """Empty customers, grades, deals, moves, the rollup and the risk tables (TRUNCATE …
    RESTART IDENTITY CASCADE, which also empties whatever else hangs off customers and deals)."""
    tables = [m._meta.db_table for m in (Customer, Grade, Deal, StageMove, FunnelRollup, RollupRun)] + RISK_TABLES
    connection.ops.execute_sql_flush(
        connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    )


# --- customers ----------------------------------------------------------------------------------
def customers(n: int, *, rms: list[User], now: datetime) -> None:
    """N customers by bench/regrade.py's COPY, spread over the RMs with a skew (a few RMs keep
    twice the average book, a few half) and created three to eight years ago."""
    rows = base.customer_rows(n, owner_id=rms[0].pk, team_id=rms[0].team_id, now=now)
    base.copy_customers(_spread(rows, rms, now))


def _spread(rows: Iterator[dict[str, object]], rms: list[User], now: datetime) -> Iterator[dict[str, object]]:
    rng = random.Random(SEED)
    cumulative = list(accumulate(rng.lognormvariate(0, 0.5) for _ in rms))
    total = cumulative[-1]
    for row in rows:
        rm = rms[bisect_right(cumulative, rng.random() * total)]
        row["owner_id"], row["team_id"] = rm.pk, rm.team_id
        row["created_at"] = now - timedelta(days=rng.uniform(HISTORY_DAYS + 5, 8 * 365))
        yield row


# --- deals and moves ----------------------------------------------------------------------------
RANKED = [Stage.PROSPECT, Stage.PRELIMINARY, Stage.DUE_DILIGENCE, Stage.APPROVED, Stage.FUNDED]
assert [RANK[s] for s in RANKED] == [1, 2, 3, 4, 5]

# One row per deal. ``dwell[i]`` is the days spent in the stage of rank i (exponential around
# 80 % of its expected days, so some deals overrun it); ``offs[k]`` the days from creation to
# entering rank k (offs[max_rank + 1] is when a lost deal left its last stage). Open deals entered
# their stage up to twice its expected days ago (about 30 % of them are overdue); closed deals
# closed at some time in the last three years.
PLAN_SQL = """
CREATE TEMPORARY TABLE bench_plan ON COMMIT DROP AS
WITH conf AS (
    SELECT (%(expected)s)::float8[] AS expected, (%(open_cuts)s)::float8[] AS open_cuts,
           (%(lost_cuts)s)::float8[] AS lost_cuts, (%(probability)s)::int[] AS probability,
           (%(stages)s)::text[] AS stages, (%(project_types)s)::text[] AS project_types,
           (%(lost_reasons)s)::text[] AS lost_reasons, (%(now)s)::timestamptz AS now
), r AS MATERIALIZED (  -- materialised: each random() drawn once per deal, however often it is read
    SELECT g,
           random() AS u_kind, random() AS u_rank, random() AS u_when, random() AS u_customer,
           random() AS u_amount, random() AS u_type, random() AS u_reason, random() AS u_terms,
           ARRAY[-ln(1 - random()), -ln(1 - random()), -ln(1 - random()), -ln(1 - random())] AS e
    FROM generate_series(1, %(deals)s) AS g
), kinds AS (
    SELECT r.*, conf.*,
           CASE WHEN u_kind < %(open_share)s THEN 'open'
                WHEN u_kind < %(open_share)s + (1 - %(open_share)s) * %(funded_share)s THEN 'funded'
                ELSE 'lost' END AS kind
    FROM r, conf
), paths AS (
    SELECT kinds.*,
           CASE kind
               WHEN 'funded' THEN 5
               WHEN 'open' THEN 1 + (u_rank >= open_cuts[1])::int + (u_rank >= open_cuts[2])::int
                                  + (u_rank >= open_cuts[3])::int
               ELSE 1 + (u_rank >= lost_cuts[1])::int + (u_rank >= lost_cuts[2])::int + (u_rank >= lost_cuts[3])::int
           END AS max_rank,
           ARRAY[0.5 + 0.8 * expected[1] * e[1], 0.5 + 0.8 * expected[2] * e[2],
                 0.5 + 0.8 * expected[3] * e[3], 0.5 + 0.8 * expected[4] * e[4]] AS dwell
    FROM kinds
), offsets AS MATERIALIZED (  -- stops the planner inlining (and re-evaluating) every expression
    SELECT paths.*,
           ARRAY[0, dwell[1], dwell[1] + dwell[2], dwell[1] + dwell[2] + dwell[3],
                 dwell[1] + dwell[2] + dwell[3] + dwell[4]] AS offs
    FROM paths
), timed AS (
    SELECT offsets.*,
           CASE kind
               WHEN 'open' THEN now - (2 * expected[max_rank] * u_when ^ 2 + offs[max_rank]) * interval '1 day'
               ELSE now - (span + u_when * greatest(0, %(history)s - span) + 0.01) * interval '1 day'
           END AS created_at
    FROM offsets, LATERAL (SELECT offs[CASE WHEN kind = 'funded' THEN 5 ELSE max_rank + 1 END] AS span) s
), placed AS (
    SELECT timed.*,
           created_at + offs[CASE kind WHEN 'open' THEN max_rank WHEN 'funded' THEN 5 ELSE max_rank + 1 END]
               * interval '1 day' AS stage_entered_at,
           CASE kind WHEN 'funded' THEN stages[5] WHEN 'lost' THEN 'lost' ELSE stages[max_rank] END AS stage
    FROM timed
)
SELECT row_number() OVER (ORDER BY p.created_at, p.g) + %(first_id)s - 1 AS id,
       %(first_customer)s + floor(p.u_customer * %(customers)s)::bigint AS customer_id,
       p.kind, p.max_rank, p.stage, p.dwell, p.offs, p.created_at, p.stage_entered_at,
       CASE WHEN p.kind = 'open' THEN NULL ELSE p.stage_entered_at END AS closed_at,
       CASE WHEN p.max_rank >= 4 THEN p.created_at + p.offs[4] * interval '1 day'
            WHEN p.kind = 'lost' THEN p.stage_entered_at END AS screened_at,
       CASE WHEN p.kind = 'open' AND p.stage_entered_at < p.now - p.expected[p.max_rank] * interval '1 day'
            THEN p.stage_entered_at + p.expected[p.max_rank] * interval '1 day' END AS stale_since,
       CASE p.kind WHEN 'open' THEN p.probability[p.max_rank] WHEN 'funded' THEN p.probability[5]
            ELSE %(lost_probability)s END AS probability,
       p.project_types[1 + floor(p.u_type * cardinality(p.project_types))::int] AS project_type,
       round((%(amount_min)s * exp(p.u_amount * ln(%(amount_max)s::float8 / %(amount_min)s)))::numeric, -4)
           AS amount,
       CASE WHEN p.kind = 'lost' THEN p.lost_reasons[1 + floor(p.u_reason * cardinality(p.lost_reasons))::int]
            ELSE '' END AS lost_reason,
       80 + floor(p.u_terms * 240)::int AS spread_bps,
       round((60 + 90 * p.u_reason)::numeric, 1) AS collateral_coverage,
       CASE WHEN p.kind = 'open' THEN (p.stage_entered_at + (30 + 150 * p.u_terms) * interval '1 day')::date
            ELSE p.stage_entered_at::date END AS expected_close
FROM placed p
"""

DEALS_SQL = """
INSERT INTO {deal} (id, code, customer_id, title, project_type, amount, purpose, owner_id, team_id, expected_close,
                    stage, probability, spread_bps, collateral_coverage, proposed_limit, lost_reason,
                    stage_entered_at, max_rank, screened_at, closed_at, stale_since, created_by_id,
                    created_at, updated_at)
SELECT p.id, gen_random_uuid(), p.customer_id,
       initcap(replace(p.project_type, '_', ' ')) || ' project ' || to_char(p.id, 'FM0000000'),
       p.project_type, p.amount, '', c.owner_id, c.team_id, p.expected_close,
       p.stage, p.probability, p.spread_bps, p.collateral_coverage,
       CASE WHEN p.max_rank >= 3 THEN p.amount END, p.lost_reason,
       p.stage_entered_at, p.max_rank, p.screened_at, p.closed_at, p.stale_since, c.owner_id,
       p.created_at, coalesce(p.stale_since, p.stage_entered_at)
FROM bench_plan p JOIN {customer} c ON c.id = p.customer_id
ORDER BY p.id
"""

# Moves into each rank reached (the first one is the creation: from "" to prospect), plus the
# move to Lost; the mover is the deal's RM. Inserted in time order, as they would have been.
MOVES_SQL = """
INSERT INTO {move} (deal_id, from_stage, to_stage, by_id, at, note, days_in_from_stage)
SELECT deal_id, from_stage, to_stage, by_id, at, '', days
FROM (
    SELECT p.id AS deal_id,
           CASE WHEN k = 1 THEN '' ELSE (%(stages)s::text[])[k - 1] END AS from_stage,
           (%(stages)s::text[])[k] AS to_stage,
           d.owner_id AS by_id,
           p.created_at + p.offs[k] * interval '1 day' AS at,
           CASE WHEN k = 1 THEN NULL ELSE floor(p.dwell[k - 1])::int END AS days
    FROM bench_plan p JOIN {deal} d ON d.id = p.id, generate_series(1, p.max_rank) AS k
    UNION ALL
    SELECT p.id, (%(stages)s::text[])[p.max_rank], 'lost', d.owner_id, p.closed_at, floor(p.dwell[p.max_rank])::int
    FROM bench_plan p JOIN {deal} d ON d.id = p.id
    WHERE p.kind = 'lost'
) moves
ORDER BY at, deal_id
"""


def deals(n: int, *, now: datetime) -> tuple[float, float]:
    """N deals over the existing customers and their stage moves, in one transaction.
    Returns the seconds spent on the deals and on the moves (the plan counts with the deals)."""
    settings = {s.stage: s for s in StageSetting.objects.all()}
    ids = Customer.objects.aggregate(first=Min("id"), last=Max("id"), count=Count("id"))
    # Customers are picked by id arithmetic, which needs the ids without gaps (a fresh COPY).
    assert ids["count"] and ids["last"] - ids["first"] + 1 == ids["count"], "customer ids are not contiguous"
    params = {
        "deals": n,
        "now": now,
        "history": HISTORY_DAYS,
        "open_share": OPEN_SHARE,
        "funded_share": FUNDED_SHARE_OF_CLOSED,
        "open_cuts": OPEN_RANK_CUTS,
        "lost_cuts": LOST_RANK_CUTS,
        "expected": [float(settings[s].expected_days or 30) for s in OPEN_STAGES],
        "probability": [settings[s].probability for s in RANKED],
        "lost_probability": settings[Stage.LOST].probability,
        "stages": [s.value for s in RANKED],
        "project_types": ProjectType.values,
        "lost_reasons": LostReason.values,
        "amount_min": AMOUNT_MIN,
        "amount_max": AMOUNT_MAX,
        "first_id": (Deal.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1,
        "first_customer": ids["first"],
        "customers": ids["count"],
    }
    tables = {"deal": Deal._meta.db_table, "move": StageMove._meta.db_table, "customer": Customer._meta.db_table}
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SET LOCAL work_mem = '256MB'")
        # JIT would spend longer compiling these long expressions than running them.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(PLAN_SQL, params)
        cursor.execute(DEALS_SQL.format(**tables))
        # Ids were given explicitly: move the identity past them for deals made later.
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{tables['deal']}', 'id'), (SELECT max(id) FROM {tables['deal']}))"  # noqa: S608
        )
        dealt = time.perf_counter()
        cursor.execute(MOVES_SQL.format(**tables), params)
        moved = time.perf_counter()
    return dealt - started, moved - dealt


# --- the loan book -------------------------------------------------------------------------------
# Extra funded deals, one per facility beyond those the pipeline funded; then the facilities.
FUNDED_DEALS_SQL = """
INSERT INTO {deal} (code, customer_id, title, project_type, amount, purpose, owner_id, team_id, expected_close,
                    stage, probability, spread_bps, collateral_coverage, proposed_limit, lost_reason,
                    stage_entered_at, max_rank, screened_at, closed_at, stale_since, created_by_id,
                    created_at, updated_at)
SELECT gen_random_uuid(), c.id, 'Funded project ' || g.i, 'other', a.amount, '', c.owner_id, c.team_id,
       (a.funded_at)::date, 'funded', 100, 300, 1.2, a.amount, '',
       a.funded_at, %(funded_rank)s, a.funded_at - interval '20 days', a.funded_at, NULL, c.owner_id,
       a.funded_at - interval '90 days', a.funded_at
FROM generate_series(1, %(extra)s) AS g(i)
CROSS JOIN LATERAL (
    SELECT %(first_customer)s + ((g.i::bigint * 7919) %% %(customers)s) AS customer_id,
           round((5000000 * exp(random() * ln(400)))::numeric, -4) AS amount,
           %(now)s - (random() * 540 + 30) * interval '1 day' AS funded_at
) a
JOIN {customer} c ON c.id = a.customer_id
"""

# One facility per funded deal, the most recently funded first, at most N of them: drawn within
# the customer's credit limit, except 1 % above it.
FACILITIES_SQL = """
INSERT INTO {facility} (code, customer_id, deal_id, granted_limit, "limit", drawn, outstanding, start_date,
                        maturity_date, created_by_id, created_at)
SELECT gen_random_uuid(), d.customer_id, d.id, f.drawn, f.drawn, f.drawn, f.drawn, f.start,
       f.start + interval '12 months', d.owner_id, d.closed_at
FROM {deal} d JOIN {customer} c ON c.id = d.customer_id
CROSS JOIN LATERAL (
    SELECT (d.closed_at AT TIME ZONE 'Asia/Shanghai')::date AS start,
           CASE WHEN d.id %% 100 = 0 THEN round(coalesce(nullif(c.credit_limit, 0), d.amount) * 1.1, 2)
                ELSE least(d.amount, coalesce(nullif(c.credit_limit, 0), d.amount)) END AS drawn
) f
WHERE d.stage = 'funded' AND f.drawn > 0
ORDER BY d.closed_at DESC, d.id
LIMIT %(facilities)s
"""

# Twelve monthly installments: equal principal, interest at 5 % a year on what is left.
INSTALLMENTS_SQL = """
INSERT INTO {installment} (facility_id, due_date, principal, interest)
SELECT f.id, (f.start_date + k * interval '1 month')::date, round(f.drawn / 12, 2),
       round(f.drawn * (13 - k) / 12 * 0.05 / 12, 2)
FROM {facility} f, generate_series(1, 12) AS k
"""

# Repayments for installments already due: on time, 5 % of facilities 10-40 days late, and 3 %
# stopped paying 1-3 installments ago (their later installments are overdue).
REPAYMENTS_SQL = """
INSERT INTO {repayment} (facility_id, received_on, amount, reference, entered_by_id, entered_at)
SELECT i.facility_id, r.received_on, i.principal + i.interest, 'BENCH-' || i.id, f.created_by_id, %(now)s
FROM {installment} i JOIN {facility} f ON f.id = i.facility_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN f.id %% 20 = 1 THEN i.due_date + (10 + f.id %% 31)::integer ELSE i.due_date END AS received_on
) r
WHERE r.received_on <= %(today)s
  AND NOT (f.id %% 33 = 2 AND i.due_date > %(today)s - (30 * (1 + f.id %% 3))::integer)
"""

# Principal repaid: the installments the repayments above paid (the same condition).
OUTSTANDING_SQL = """
UPDATE {facility} f SET outstanding = greatest(f.drawn - p.principal_paid, 0)
FROM (
    SELECT i.facility_id, sum(i.principal) AS principal_paid
    FROM {installment} i JOIN {facility} f ON f.id = i.facility_id
    WHERE CASE WHEN f.id %% 20 = 1 THEN i.due_date + (10 + f.id %% 31)::integer ELSE i.due_date END <= %(today)s
      AND NOT (f.id %% 33 = 2 AND i.due_date > %(today)s - (30 * (1 + f.id %% 3))::integer)
    GROUP BY i.facility_id
) p
WHERE p.facility_id = f.id
"""

# bench/regrade.py's customers spread over every grade and data age on purpose (to exercise the
# scorecard); a portfolio under monitoring is mostly reviewed and reported on time. Here 97 % were
# reviewed in the last two months and have a credit report and a statement within a year, and
# leverage is that of firms the lender chose to fund; 3 % are behind on each.
MONITORED_SQL = """
UPDATE {customer} SET
    debt_ratio = round(debt_ratio * 0.75, 4),
    last_review_date = CASE WHEN id %% 33 = 5 THEN %(today)s - 400 ELSE %(today)s - (id %% 60)::integer END,
    credit_report_date = CASE WHEN id %% 33 = 6 THEN %(today)s - 420 ELSE %(today)s - (id * 7 %% 300)::integer END,
    statement_date = CASE WHEN id %% 33 = 7 THEN %(today)s - 480 ELSE %(today)s - (id * 11 %% 330)::integer END
"""

# 2 % of customers get a worse credit report and a higher debt ratio (then re-graded).
DETERIORATE_SQL = """
UPDATE {customer} SET
    previous_bureau_rating = bureau_rating,
    bureau_rating = CASE bureau_rating WHEN 'AAA' THEN 'A' WHEN 'AA' THEN 'BBB' WHEN 'A' THEN 'BB'
                                       WHEN 'BBB' THEN 'B' ELSE 'CCC' END,
    debt_ratio = least(coalesce(debt_ratio, 0.5) + 0.3, 0.98)
WHERE id %% 50 = 7 AND bureau_rating <> ''
RETURNING id
"""


def tables() -> dict[str, str]:
    return {
        "deal": Deal._meta.db_table,
        "customer": Customer._meta.db_table,
        "facility": Facility._meta.db_table,
        "installment": RepaymentInstallment._meta.db_table,
        "repayment": Repayment._meta.db_table,
    }


def monitored(*, today: date) -> None:
    """Customers made to look like a monitored portfolio (MONITORED_SQL); before grading."""
    with connection.cursor() as cursor:
        cursor.execute(MONITORED_SQL.format(**tables()), {"today": today})


def facilities(n: int, *, now: datetime, timings: Timings) -> None:
    """N facilities from funded deals (funding more deals where the pipeline funded fewer than
    N), twelve installments each, the repayments already due and each facility's outstanding."""
    today = timezone.localdate(now)
    t = tables()
    funded = Deal.objects.filter(stage=Stage.FUNDED).count()
    extra = max(0, n - funded)
    ids = Customer.objects.aggregate(first=Min("id"), count=Count("id"))
    params = {
        "extra": extra,
        "funded_rank": RANK[Stage.FUNDED],
        "first_customer": ids["first"],
        "customers": ids["count"],
        "facilities": n,
    }
    with (
        timings.step(f"funded deals ({extra:,} more) and facilities ({n:,})"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(FUNDED_DEALS_SQL.format(**t), {**params, "now": now})
        cursor.execute(FACILITIES_SQL.format(**t), params)
    with timings.step("installments (12 per facility)"), connection.cursor() as cursor:
        cursor.execute(INSTALLMENTS_SQL.format(**t))
    with timings.step("repayments and outstanding"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(REPAYMENTS_SQL.format(**t), {"now": now, "today": today})
        cursor.execute(OUTSTANDING_SQL.format(**t), {"today": today})


def deteriorate() -> int:
    """2 % of customers get a worse credit report and a higher debt ratio and are re-graded
    (downgrades, score drops, bureau downgrades for the alert rules). Returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(DETERIORATE_SQL.format(**tables()), {})
        ids = [row[0] for row in cursor.fetchall()]
    regrade(reason=GradeReason.DATA_CHANGED, ids=ids)
    return len(ids)


def portfolio(*, n_customers: int, n_deals: int, n_facilities: int, staff: Staff, timings: Timings) -> None:
    """The whole bench data set, from empty tables: N customers as a monitored portfolio, graded;
    a pipeline of M deals with their moves; the loan book; 2 % of customers deteriorated and
    re-graded; stale deals flagged; VACUUM ANALYZE. No alerts yet (the caller evaluates)."""
    from funnel import services as funnel_services

    now = timezone.now()
    with timings.step("wipe"):
        wipe()
    with timings.step(f"customers ({n_customers:,}, COPY)"):
        customers(n_customers, rms=staff.rms, now=now)
    with timings.step("customers as a monitored portfolio"):
        monitored(today=timezone.localdate(now))
    with timings.step("grade customers (customers.regrade)"):
        regrade(reason=GradeReason.SCHEDULED)
    print(f"  pipeline deals ({n_deals:,}) and stage moves, set-based …", flush=True)
    dealt, moved = deals(n_deals, now=now)
    timings.steps[f"pipeline deals ({n_deals:,}, INSERT … SELECT)"] = dealt
    timings.steps["stage moves (INSERT … SELECT)"] = moved
    print(f"    deals {dealt:.1f} s, moves {moved:.1f} s", flush=True)
    facilities(n_facilities, now=now, timings=timings)
    with timings.step("2 % of customers deteriorate and are re-graded"):
        deteriorate()
    with timings.step("stale deals flagged (funnel.services.deals_flag_stale)"):
        funnel_services.deals_flag_stale()
    with timings.step("VACUUM ANALYZE, CHECKPOINT"):
        vacuum_analyze()


def vacuum_analyze() -> None:
    """What autovacuum would reach eventually: no dead rows from grading, visibility maps set
    (index-only scans), fresh statistics; then a checkpoint so the measurement writes no backlog."""
    tables = [m._meta.db_table for m in (Customer, Grade, Deal, StageMove, User)] + RISK_TABLES
    tables.append("customers_name_search")  # the search's own table (customers/0018), no model
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
        cursor.execute("CHECKPOINT")
