"""Bench data for the funnel pages: teams and users, customers spread over their RMs, deals and
each deal's stage moves. Used by bench/pages.py; PostgreSQL only.

Customers come from bench/regrade.py's generator and COPY (unchanged; only the owner, team and
creation date of each row are replaced on the way). Deals and moves are made inside PostgreSQL
by set-based SQL from ``generate_series``: one temporary plan row per deal (its path through the
funnel and the days it spent in each stage), then one INSERT … SELECT for the deals and one for
the moves, so the timeline, ``max_rank``, ``screened_at``, ``closed_at`` and
``days_in_from_stage`` all agree with what funnel.services would have written.
"""

import random
import time
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Count, Max, Min

from bench import regrade as base
from crm.models import Team, User
from crm.roles import Role
from customers.models import Customer, Grade
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


@dataclass
class Staff:
    rms: list[User]
    managers: dict[int, User]  # team id -> its team manager


# --- users --------------------------------------------------------------------------------------
def staff() -> Staff:
    """20 teams of 10 RMs and one team manager each (created once, found again on later runs)."""
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
    return Staff(rms=rms, managers=managers)


def _user(username: str, team: Team, group: Group, password: str) -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"team": team, "password": password})
    if created:
        user.groups.add(group)
    return user


# --- wiping -------------------------------------------------------------------------------------
def wipe() -> None:
    """Empty customers, grades, deals, moves and the rollup (TRUNCATE … RESTART IDENTITY CASCADE,
    which also empties whatever else hangs off customers and deals)."""
    tables = [m._meta.db_table for m in (Customer, Grade, Deal, StageMove, FunnelRollup, RollupRun)]
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


def vacuum_analyze() -> None:
    """What autovacuum would reach eventually: no dead rows from grading, visibility maps set
    (index-only scans), fresh statistics; then a checkpoint so the measurement writes no backlog."""
    tables = [m._meta.db_table for m in (Customer, Grade, Deal, StageMove, User)]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
        cursor.execute("CHECKPOINT")
