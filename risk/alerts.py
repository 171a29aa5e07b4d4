"""Alert rules: what each kind watches, and the evaluation that raises alerts.

Evaluation, per enabled rule: one set-based query gives the customers in the rule's bad state
now; comparing it with their ``AlertCondition`` rows gives the transitions. Only the change into
the bad state raises an alert; staying bad updates the open alert's ``last_seen_at``; leaving it
marks the condition good (the alert stays until a person resolves it).

Idempotent and safe with several workers: each batch locks its condition rows (``SELECT … FOR
UPDATE`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` serialises writers) and decides the
transitions from what it reads under the lock, so a second run — concurrent or not — finds the
conditions already bad and raises nothing. The partial unique constraint
``one_open_alert_per_customer_and_rule`` is the last line: alerts are inserted with
``ignore_conflicts`` and only those whose fresh ``code`` made it in get an ``opened`` event."""

import datetime
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q, Sum, Window
from django.db.models.functions import Round, RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.choices import Tier
from customers.models import Customer, Grade
from risk.exceptions import InputRefused
from risk.models import (
    UNRESOLVED,
    Alert,
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertRule,
    AlertStatus,
    Facility,
)
from risk.selectors import MONEY, ZERO, facilities_overdue_more_than

log = logging.getLogger(__name__)
BATCH_SIZE = 500

# Ranks of the graded tiers. Unrated is missing data, not a worse grade: a customer going from
# AA to Unrated is the "scorecard inputs stale" rule's business, not a downgrade.
TIER_RANK = {Tier.AA: 3, Tier.A: 2, Tier.B: 1}
GRADED_TIERS = [t.value for t in TIER_RANK]


class AlertTransitionRefused(InputRefused):
    """An acknowledge or resolve that does not apply to the alert as it now stands."""


# --- Kinds -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    defaults: dict
    check_params: Callable[[dict], list]  # params with defaults applied -> problems
    bad_customers: Callable[..., Iterable[int]]  # (queryset of customers, params, today) -> ids
    observe: Callable[..., dict]  # (customer ids, params, today) -> {customer id: observation}


def _check_from_tiers(params: dict) -> list:
    value = params["from_tiers"]
    if not isinstance(value, list) or not value or any(t not in (Tier.AA, Tier.A) for t in value):
        # B is the lowest graded tier: nothing to be downgraded to from there.
        return [_('"from_tiers" must be a non-empty list of tiers out of "AA" and "A".')]
    return []


def _check_days(params: dict) -> list:
    value = params["days"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [_('"days" must be a whole number of days, zero or more.')]
    return []


def _tier_downgrade_bad(customers, params: dict, today: datetime.date):
    lowered = Q(pk__in=[])
    for old in params["from_tiers"]:
        lower = [t for t, rank in TIER_RANK.items() if rank < TIER_RANK[old]]
        lowered |= Q(previous_tier=old, tier__in=lower)
    # previous_tier is the tier before the latest grade change (customers.regrade): the state
    # stays bad until the next grade change, and an upgrade in between ends it.
    return customers.filter(lowered).values_list("pk", flat=True)


def _tier_downgrade_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    """Old and new tier with both scores and breakdowns: the last two Grade rows."""
    last_two = (
        Grade.objects.filter(customer_id__in=ids)
        .annotate(
            position=Window(
                RowNumber(), partition_by=[F("customer_id")], order_by=[F("created_at").desc(), F("id").desc()]
            )
        )
        .filter(position__lte=2)
        .values("customer_id", "position", "tier", "score", "breakdown", "created_at")
    )
    grades: dict[int, dict] = defaultdict(dict)
    for row in last_two:
        grades[row["customer_id"]][row["position"]] = row
    observed = {}
    for customer in Customer.objects.filter(pk__in=ids).only("tier", "previous_tier", "score", "breakdown"):
        new, old = grades[customer.pk].get(1), grades[customer.pk].get(2)
        observed[customer.pk] = {
            "old_tier": customer.previous_tier,
            "new_tier": customer.tier,
            "old_score": _text(old["score"]) if old else None,
            "new_score": _text(customer.score),
            "old_breakdown": old["breakdown"] if old else None,
            "new_breakdown": customer.breakdown,
            "graded_at": new["created_at"].isoformat() if new else None,
        }
    return observed


def _payment_overdue_bad(customers, params: dict, today: datetime.date):
    facilities = Facility.objects.filter(customer__in=customers)
    overdue = facilities_overdue_more_than(params["days"], today=today, queryset=facilities)
    return overdue.order_by().values_list("customer_id", flat=True).distinct()


def _payment_overdue_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    rows = (
        facilities_overdue_more_than(params["days"], today=today, queryset=Facility.objects.filter(customer_id__in=ids))
        .order_by("customer_id", "id")
        .values("customer_id", "code", "amount_overdue", "days_overdue")
    )
    observed: dict[int, dict] = {}
    for row in rows:
        entry = observed.setdefault(
            row["customer_id"], {"amount_overdue": ZERO, "days_overdue": 0, "facilities": [], "as_of": str(today)}
        )
        entry["amount_overdue"] += row["amount_overdue"]
        entry["days_overdue"] = max(entry["days_overdue"], row["days_overdue"])
        entry["facilities"].append(str(row["code"]))
    for entry in observed.values():
        entry["amount_overdue"] = _text(entry["amount_overdue"])
    return observed


def _open_facilities_drawn():
    # Open: something still outstanding. Rounded to the fen because SQLite sums decimals as
    # binary floats.
    return Round(Sum("facilities__drawn", filter=Q(facilities__outstanding__gt=0)), 2, output_field=MONEY)


def _limit_breach_bad(customers, params: dict, today: datetime.date):
    # A customer without a credit limit (never graded) has nothing to breach.
    return (
        customers.filter(credit_limit__isnull=False)
        .annotate(drawn_total=_open_facilities_drawn())
        .filter(drawn_total__gt=F("credit_limit"))
        .values_list("pk", flat=True)
    )


def _limit_breach_observe(ids: list[int], params: dict, today: datetime.date) -> dict:
    # Summed in Python for an exact Decimal on every database.
    drawn: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for customer_id, amount in Facility.objects.filter(customer_id__in=ids, outstanding__gt=0).values_list(
        "customer_id", "drawn"
    ):
        drawn[customer_id] += amount
    return {
        pk: {"drawn_total": _text(drawn[pk]), "credit_limit": _text(limit)}
        for pk, limit in Customer.objects.filter(pk__in=ids).values_list("pk", "credit_limit")
    }


KINDS: dict[str, Kind] = {
    AlertKind.TIER_DOWNGRADE: Kind(
        defaults={"from_tiers": [Tier.AA.value, Tier.A.value]},
        check_params=_check_from_tiers,
        bad_customers=_tier_downgrade_bad,
        observe=_tier_downgrade_observe,
    ),
    AlertKind.PAYMENT_OVERDUE: Kind(
        defaults={"days": 30},
        check_params=_check_days,
        bad_customers=_payment_overdue_bad,
        observe=_payment_overdue_observe,
    ),
    AlertKind.LIMIT_BREACH: Kind(
        defaults={},
        check_params=lambda params: [],
        bad_customers=_limit_breach_bad,
        observe=_limit_breach_observe,
    ),
}


def _text(value) -> str | None:
    return None if value is None else str(value)


def rule_problems(*, kind: str, params, tiers) -> dict[str, list]:
    """Why a rule with these fields cannot be saved, per field (empty: it can)."""
    problems: dict[str, list] = {}
    spec = KINDS.get(kind)
    if spec is None:
        label = AlertKind(kind).label if kind in AlertKind.values else kind
        problems["kind"] = [
            _(
                "Alerts of the kind “%(kind)s” are not implemented yet; only tier downgrade, "
                "payment overdue and credit limit breached can be evaluated."
            )
            % {"kind": label}
        ]
    if not isinstance(params, dict):
        problems["params"] = [_("Parameters must be a JSON object, e.g. {}.")]
    elif spec is not None:
        unknown = sorted(set(params) - set(spec.defaults))
        if unknown:
            allowed = ", ".join(f'"{k}"' for k in spec.defaults) or _("none")
            problems["params"] = [
                _("Unknown parameters: %(unknown)s. This kind takes: %(allowed)s.")
                % {"unknown": ", ".join(f'"{k}"' for k in unknown), "allowed": allowed}
            ]
        else:
            found = spec.check_params({**spec.defaults, **params})
            if found:
                problems["params"] = found
    if not isinstance(tiers, list) or any(t not in Tier.values for t in tiers):
        problems["tiers"] = [
            _("Tiers must be a list out of %(tiers)s; empty for all tiers.")
            % {"tiers": ", ".join(f'"{t}"' for t in Tier.values)}
        ]
    return problems


# --- Evaluation ------------------------------------------------------------------------------------
def evaluate(*, rule_ids: Iterable[int] | None = None, today: datetime.date | None = None) -> dict:
    """Evaluate the enabled rules (or those of ``rule_ids`` that are enabled) as of ``today``
    (default: the local date). Returns counts: ``raised`` (new alerts), ``seen_again`` (back in
    the bad state while an earlier alert is still unresolved), ``still_bad``, ``recovered``."""
    today = today or timezone.localdate()
    now = timezone.now()
    totals = {"raised": 0, "seen_again": 0, "still_bad": 0, "recovered": 0}
    rules = AlertRule.objects.filter(enabled=True, kind__in=list(KINDS))
    if rule_ids is not None:
        rules = rules.filter(pk__in=list(rule_ids))
    for rule in rules:
        counts = _evaluate_rule(rule, today=today, now=now)
        log.info("alert rule %s (%s): %s", rule.pk, rule.kind, counts)
        for key, value in counts.items():
            totals[key] += value
    return totals


def _evaluate_rule(rule: AlertRule, *, today: datetime.date, now: datetime.datetime) -> dict:
    kind = KINDS[rule.kind]
    params = {**kind.defaults, **rule.params}
    customers = Customer.objects.all()
    if rule.tiers:
        customers = customers.filter(tier__in=rule.tiers)
    bad = set(kind.bad_customers(customers, params, today))
    # Customers bad at the last run that may have recovered (including any that since left the
    # rule's tiers: out of scope is not bad).
    was_bad = set(AlertCondition.objects.filter(rule=rule, is_bad=True).values_list("customer_id", flat=True))
    counts = {"raised": 0, "seen_again": 0, "still_bad": 0, "recovered": 0}
    ids = sorted(bad | was_bad)
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        for key, value in _evaluate_batch(rule, kind, params, batch, bad, today=today, now=now).items():
            counts[key] += value
    return counts


def _evaluate_batch(
    rule: AlertRule,
    kind: Kind,
    params: dict,
    batch: list[int],
    bad: set[int],
    *,
    today: datetime.date,
    now: datetime.datetime,
) -> dict:
    bad_here = [pk for pk in batch if pk in bad]
    with transaction.atomic():
        # Rows to lock for every customer that is bad now; a concurrent run's rows are kept.
        AlertCondition.objects.bulk_create(
            [AlertCondition(rule=rule, customer_id=pk, is_bad=False, since=now, last_checked=now) for pk in bad_here],
            ignore_conflicts=True,
        )
        # Locked in id order so two runs cannot deadlock; what is read under the lock decides.
        conditions = dict(
            AlertCondition.objects.select_for_update()
            .filter(rule=rule, customer_id__in=batch)
            .order_by("customer_id")
            .values_list("customer_id", "is_bad")
        )
        turning_bad = [pk for pk in bad_here if not conditions.get(pk)]
        still_bad = [pk for pk in bad_here if conditions.get(pk)]
        recovered = [pk for pk, is_bad in conditions.items() if is_bad and pk not in bad]

        raised, seen_again = _raise(rule, kind, params, turning_bad, today=today, now=now)
        # Staying bad only touches the unresolved alert; a resolved one stays as it was closed.
        Alert.objects.filter(rule=rule, customer_id__in=still_bad, status__in=UNRESOLVED).update(last_seen_at=now)
        conditions_of = AlertCondition.objects.filter(rule=rule)
        conditions_of.filter(customer_id__in=turning_bad).update(is_bad=True, since=now, last_checked=now)
        conditions_of.filter(customer_id__in=recovered).update(is_bad=False, since=now, last_checked=now)
        conditions_of.filter(customer_id__in=still_bad).update(last_checked=now)
    return {"raised": raised, "seen_again": seen_again, "still_bad": len(still_bad), "recovered": len(recovered)}


def _raise(
    rule: AlertRule, kind: Kind, params: dict, customer_ids: list[int], *, today: datetime.date, now: datetime.datetime
) -> tuple[int, int]:
    """Raise an alert for each customer that just turned bad, or — if an earlier alert is still
    unresolved — note on it that the condition is back. Returns (raised, seen again)."""
    if not customer_ids:
        return 0, 0
    observed = kind.observe(customer_ids, params, today)
    fresh = {
        pk: Alert(
            code=uuid.uuid4(),
            customer_id=pk,
            rule=rule,
            severity=rule.severity,
            status=AlertStatus.OPEN,
            observed=observed.get(pk, {}),
            opened_at=now,
            last_seen_at=now,
        )
        for pk in customer_ids
    }
    # The partial unique index refuses a second unresolved alert: those inserts are skipped.
    Alert.objects.bulk_create(fresh.values(), ignore_conflicts=True)
    created = dict(Alert.objects.filter(code__in=[a.code for a in fresh.values()]).values_list("customer_id", "pk"))
    existing = dict(
        Alert.objects.filter(rule=rule, customer_id__in=customer_ids, status__in=UNRESOLVED)
        .exclude(pk__in=created.values())
        .values_list("customer_id", "pk")
    )
    Alert.objects.filter(pk__in=existing.values()).update(last_seen_at=now)
    AlertEvent.objects.bulk_create(
        [AlertEvent(alert_id=pk, kind=AlertEventKind.OPENED, at=now) for pk in created.values()]
        + [AlertEvent(alert_id=pk, kind=AlertEventKind.SEEN_AGAIN, at=now) for pk in existing.values()]
    )
    return len(created), len(existing)


# --- Transitions -----------------------------------------------------------------------------------
def _transition(
    *, alert: Alert, by, frm: list[str], to: str, event: str, note: str = "", extra: dict | None = None
) -> Alert:
    now = timezone.now()
    with transaction.atomic():
        # Compare-and-set: of two people acting at once, only the first changes the status.
        updated = Alert.objects.filter(pk=alert.pk, status__in=frm).update(status=to, **(extra or {}))
        if not updated:
            raise AlertTransitionRefused(
                [_("This alert has changed in the meantime (it is no longer open); reload it to see where it stands.")]
            )
        AlertEvent.objects.create(alert=alert, kind=event, by=by, at=now, note=note)
    alert.refresh_from_db()
    return alert


def alert_acknowledge(*, alert: Alert, by) -> Alert:
    """Open → acknowledged: someone is looking at it."""
    return _transition(
        alert=alert, by=by, frm=[AlertStatus.OPEN], to=AlertStatus.ACKNOWLEDGED, event=AlertEventKind.ACKNOWLEDGED
    )


def alert_resolve(*, alert: Alert, by, note: str) -> Alert:
    """Open or acknowledged → resolved, with a note saying what was done."""
    note = (note or "").strip()
    if not note:
        raise AlertTransitionRefused([_("Say how the alert was resolved: a note is required.")])
    return _transition(
        alert=alert,
        by=by,
        frm=UNRESOLVED,
        to=AlertStatus.RESOLVED,
        event=AlertEventKind.RESOLVED,
        note=note,
        extra={"resolved_at": timezone.now(), "resolved_note": note},
    )
