"""Fictional demo deals on the demo customers, with a believable history (run after
``seed_demo``). Idempotent: customers that already have a deal are left alone.

History is written directly (backdated moves), not through the gates: a demo needs deals that
entered stages months ago, which a live move cannot do."""

import random
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Tier
from funnel.analytics import rollup_rebuild
from funnel.models import (
    OPEN_STAGES,
    RANK,
    ChecklistCheck,
    ChecklistItem,
    Deal,
    LostReason,
    Stage,
    StageMove,
    StageSetting,
)
from funnel.services import proposed_terms

TITLES = [
    "Solar farm phase II",
    "Wind farm grid connection",
    "Toll road extension",
    "Water treatment plant upgrade",
    "Data centre campus",
    "Port terminal expansion",
    "Industrial park utilities",
    "Metro line depot",
]
TYPES = ["renewable", "renewable", "road", "water", "data_centre", "port", "industrial", "rail"]
PATH = [Stage.PROSPECT, Stage.PRELIMINARY, Stage.DUE_DILIGENCE, Stage.APPROVED, Stage.FUNDED]


class Command(BaseCommand):
    help = "Create fictional demo deals (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        settings = StageSetting.objects.by_stage()
        items = list(ChecklistItem.objects.filter(is_active=True))
        now = timezone.now()
        created = 0
        customers = Customer.objects.filter(deals__isnull=True).select_related("owner").order_by("credit_code")
        for customer in customers:
            # Seeded by the customer, so a re-run makes the same choice for the same customer.
            rng = random.Random(f"deal:{customer.credit_code}")
            if rng.random() < 0.35:
                continue  # not every customer has a deal
            created += self.deal_for(customer, rng, settings, items, now)
        # The analytics page reads a rollup the beat job refreshes; fill it now for the demo.
        transaction.on_commit(rollup_rebuild)
        self.stdout.write(self.style.SUCCESS(f"Demo deals ready: {Deal.objects.count()} deals ({created} new)."))

    @staticmethod
    def stay(customer, setting) -> float:
        """Days an open demo deal has been in its stage: 75 % within the expected days, 15 % up
        to the overdue margin, 10 % overdue. A random stream of its own, so the rest of the
        deal's choices stay as they were."""
        rng = random.Random(f"stay:{customer.credit_code}")
        expected = setting.expected_days or 30
        limit = setting.overdue_after or expected
        roll = rng.random()
        if roll < 0.75:
            return rng.uniform(1, expected)
        if roll < 0.9:
            return rng.uniform(expected, limit)
        return rng.uniform(limit + 1, limit * 2)

    def deal_for(self, customer, rng, settings, items, now) -> int:
        graded = customer.tier != Tier.UNRATED
        # How far it got: ungraded customers stay in the first layers; some deals are history.
        furthest = rng.choices(range(5), weights=[30, 25, 20, 10, 15] if graded else [70, 30, 0, 0, 0])[0]
        lost = rng.random() < 0.2
        amount = Decimal(rng.randrange(20, 900) * 1_000_000)
        index = rng.randrange(len(TITLES))
        age = rng.randrange(10, 400)
        created_at = now - timedelta(days=age, hours=rng.randrange(24))
        terms = proposed_terms(customer, amount)
        stages = PATH[: furthest + 1] + ([Stage.LOST] if lost and furthest < 4 else [])
        # Spread the deal's life over its age: each stage gets a share.
        at = created_at
        moves = [(None, Stage.PROSPECT, at, None)]
        for previous, stage in pairwise(stages):
            days = rng.randrange(3, max(4, age // len(stages)))
            at = min(at + timedelta(days=days, hours=rng.randrange(24)), now - timedelta(hours=1))
            moves.append((previous, stage, at, days))
        final = stages[-1]
        if final in OPEN_STAGES:
            # An open deal's history is slid along the calendar so that it entered its stage a
            # believable time ago: most within the stage's expected days, a few past them, and
            # only some overdue (funnel.models.StageSetting.is_overdue). Spreading the stages
            # over the deal's whole age made nearly every open deal overdue.
            shift = now - timedelta(days=self.stay(customer, settings[final])) - at
            created_at += shift
            moves = [(previous, stage, when + shift, days) for previous, stage, when, days in moves]
            at += shift
        deal = Deal.objects.create(
            customer=customer,
            title=TITLES[index],
            project_type=TYPES[index],
            amount=amount,
            purpose="Construction and equipment financing for the project company.",
            owner_id=customer.owner_id,
            team_id=customer.team_id,
            created_by=customer.owner,
            expected_close=(now + timedelta(days=rng.randrange(20, 200))).date() if final in OPEN_STAGES else None,
            stage=final,
            probability=settings[final].probability,
            lost_reason=rng.choice(LostReason.values) if final == Stage.LOST else "",
            stage_entered_at=at,
            max_rank=max(RANK[s] for s in stages),
            screened_at=next((m[2] for m in moves if m[1] in (Stage.APPROVED, Stage.LOST)), None),
            closed_at=at if final in (Stage.FUNDED, Stage.LOST) else None,
            created_at=created_at,
            **terms,
        )
        StageMove.objects.bulk_create(
            StageMove(
                deal=deal,
                from_stage=previous or "",
                to_stage=stage,
                by=customer.owner,
                at=when,
                days_in_from_stage=days,
            )
            for previous, stage, when, days in moves
        )
        if RANK[final] >= RANK[Stage.APPROVED] or (final == Stage.DUE_DILIGENCE and rng.random() < 0.5):
            ticked = items if RANK[final] >= RANK[Stage.APPROVED] else items[: rng.randrange(len(items))]
            ChecklistCheck.objects.bulk_create(
                ChecklistCheck(deal=deal, item=item, checked_by=customer.owner, checked_at=at) for item in ticked
            )
        return 1
