"""Actions on scorecards and grades: publish (with its impact preview), copy to a new draft,
override a tier, record a review."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from crm.jobs import job_request
from crm.sql import Dialect, Params
from customers import tasks
from customers.choices import Tier
from customers.exceptions import NotAllowed, ScorecardInvalid
from customers.grading import validate
from customers.models import (
    Band,
    Customer,
    GradeReason,
    Scorecard,
    ScorecardStatus,
    TierOverride,
)
from customers.regrade import graded_rows_sql, regrade

TIER_ORDER = [Tier.AA, Tier.A, Tier.B, Tier.UNRATED]


@dataclass
class Impact:
    """The tier migration matrix a publication would cause: (old, new) -> customers, exposure."""

    cells: dict[tuple[str, str], tuple[int, Decimal]]
    total: int

    def cell(self, old: str, new: str) -> tuple[int, Decimal]:
        return self.cells.get((old, new), (0, Decimal(0)))

    @property
    def moved(self) -> int:
        return sum(n for (old, new), (n, _) in self.cells.items() if old != new)

    def rows(self) -> list[dict]:
        return [
            {
                "tier": old,
                "cells": [
                    {"tier": new, "n": self.cell(old, new)[0], "exposure": self.cell(old, new)[1]} for new in TIER_ORDER
                ],
            }
            for old in TIER_ORDER
        ]


def scorecard_impact(*, scorecard: Scorecard, now: datetime | None = None) -> Impact:
    """What publishing would do to the live portfolio, computed in one read-only query with the
    same SQL the re-grade runs. Exposure is the current credit limit."""
    d = Dialect(connection.vendor)
    p = Params()
    rows = graded_rows_sql(scorecard.spec(), d, p, now=now or timezone.now(), where="1 = 1")
    sql = f"SELECT e.old_tier, e.tier, COUNT(*), SUM(e.old_credit_limit) FROM ({rows}) e GROUP BY e.old_tier, e.tier"  # noqa: S608
    cells = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        for old, new, n, exposure in cursor.fetchall():
            cells[(old, new)] = (n, Decimal(str(exposure or 0)).quantize(Decimal("0.01")))
    return Impact(cells=cells, total=sum(n for n, _ in cells.values()))


def scorecard_publish(*, scorecard: Scorecard, by) -> Scorecard:
    """Make a draft the active scorecard, retire the previous one, and re-grade the portfolio
    in the background. Refuses a scorecard that does not validate."""
    with transaction.atomic():
        card = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
        if card.status != ScorecardStatus.DRAFT:
            raise NotAllowed("only a draft can be published")
        errors = validate(card.spec())
        if errors:
            raise ScorecardInvalid(errors)
        Scorecard.objects.filter(status=ScorecardStatus.ACTIVE).update(status=ScorecardStatus.RETIRED)
        card.status = ScorecardStatus.ACTIVE
        card.published_at = timezone.now()
        card.published_by = by
        # Asked for in the publishing transaction (crm.jobs): a broker that is down delays the
        # re-grade, it cannot lose it. The job is kept on the card for the progress shown.
        card.regrade_job = job_request(tasks.portfolio_regrade, by=by, reason=GradeReason.SCORECARD_PUBLISHED)
        card.save(update_fields=["status", "published_at", "published_by", "regrade_job"])
    return card


def scorecard_copy(*, scorecard: Scorecard, by) -> Scorecard:
    """A new draft with the next version number and the same criteria, bands and cut-offs."""
    with transaction.atomic():
        version = (Scorecard.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0) + 1
        draft = Scorecard.objects.create(
            version=version,
            name=scorecard.name,
            cutoff_aa=scorecard.cutoff_aa,
            cutoff_a=scorecard.cutoff_a,
            notes=f"Copied from v{scorecard.version}.",
        )
        for criterion in scorecard.criteria.prefetch_related("bands"):
            bands = list(criterion.bands.all())
            criterion.pk = None
            criterion.scorecard = draft
            criterion.save()
            Band.objects.bulk_create(
                Band(criterion=criterion, lower=b.lower, upper=b.upper, category=b.category, points=b.points)
                for b in bands
            )
    return draft


def override_create(*, customer: Customer, by, tier: str, reason: str, expires_at: datetime) -> TierOverride:
    """A risk officer's tier beside the computed one, until ``expires_at``; applied at once."""
    if expires_at <= timezone.now():
        raise NotAllowed("the expiry must be in the future")
    with transaction.atomic():
        override = TierOverride.objects.create(
            customer=customer, tier=tier, reason=reason, expires_at=expires_at, created_by=by
        )
        Customer.objects.filter(pk=customer.pk).update(override_tier=tier, override_expires_at=expires_at)
        regrade(reason=GradeReason.OVERRIDE, ids=[customer.pk])
    return override


def customer_reviewed(*, customer: Customer, by) -> None:
    """Record today's review: the next one is due a policy interval from now. The review also
    answers a watch-list call for one (risk.services.watch puts the customer back if an alert raised
    since still asks for another), so the watch date goes too — else the re-grade would keep
    the next review at that passed date."""
    with transaction.atomic():
        today = timezone.localdate()
        Customer.objects.filter(pk=customer.pk).update(last_review_date=today, reviewed_on=today, watch_review_by=None)
        regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
