"""Fictional risk data on the demo deals (run after ``seed_demo`` and ``seed_demo_deals``), so the
risk dashboard, the alert list and the home page have something to show: facilities with
repayment schedules and repayments, a few customers whose credit worsened, and what the beat
jobs make of them — alerts, limit breaches, the watch list, an escalation, the monthly figures.

Everything goes through the code the application itself runs (the funded-deal receiver,
``schedule_set``, ``repayment_record``, ``sources_import`` and its re-grade, the hourly alert
job's steps, the escalation job, ``alert_acknowledge``/``alert_resolve``/``alert_assign``,
``rollup_rebuild``), except where a service rightly refuses the past: installments already due
and one alert's opening time (both said where they are written).

Idempotent and deterministic: every random choice is seeded by the customer's credit code, and
each step looks for what it would create before creating it, so a second run adds nothing and
data a person entered is left alone. Run on a later day it books the demo repayments that have
fallen due since (customers who stopped paying stay stopped) and runs the jobs again, as the
beat would have."""

import datetime
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from crm.dates import add_months
from crm.models import User
from customers.grading import grade
from customers.models import CreditRating, CreditReport, Customer, DataSource, FinancialStatement, Tier, TierPolicy
from customers.regrade import active_scorecard, customer_inputs
from customers.services import sources_import
from funnel.models import Deal, Stage
from risk.alerts import evaluate
from risk.dashboard import rollup_rebuild
from risk.models import (
    UNRESOLVED,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertKind,
    AlertSeverity,
    AlertStatus,
    Facility,
    Repayment,
    RepaymentInstallment,
    RiskMonth,
)
from risk.services import (
    alert_acknowledge,
    alert_assign,
    alert_resolve,
    alerts_escalate,
    facility_limits_follow,
    facility_open,
    repayment_record,
    schedule_set,
    watch_refresh,
)

CENT = Decimal("0.01")
BASE_RATE = Decimal("0.0345")  # the one-year loan prime rate; each deal adds its spread
STOPPED = 2  # facilities whose customer stopped paying 40–90 days ago
SCORE_DROP = Decimal(10)  # the points of the shipped "score dropped" rule
CURRENT_RATIO = Decimal("0.7")  # current assets / current liabilities in the weaker accounts
REFERENCE = "DEMO-{code}-{due:%Y%m%d}"  # the bank reference of a demo repayment (credit code's end)


def deal_key(deal: Deal) -> str:
    """What seeds a deal's random choices: stable across fresh databases (codes are random;
    demo credit codes are not)."""
    return f"{deal.customer.credit_code}:{deal.title}"


def worse_rating(rating: str, notches: int) -> str:
    ratings = list(CreditRating.values)  # best first
    return ratings[min(ratings.index(rating) + notches, len(ratings) - 1)]


@dataclass(frozen=True)
class Worsening:
    """News about a customer: a bureau report ``notches`` below the current rating with overdue
    payments (when notches > 0), and/or quarterly accounts with this debt ratio, thin cash
    (current ratio 0.7) and a small loss."""

    notches: int = 0
    overdue: int = 0
    litigation: bool = False
    debt_ratio: Decimal | None = None

    def inputs(self, customer: Customer) -> dict:
        """The customer's grading inputs once the news is in (as customers.services.intake copies them)."""
        inputs = customer_inputs(customer, timezone.localdate())
        if self.notches:
            inputs.update(
                bureau_rating=worse_rating(customer.bureau_rating, self.notches),
                overdue_count=self.overdue,
                has_litigation=self.litigation,
            )
        if self.debt_ratio is not None:
            inputs.update(debt_ratio=self.debt_ratio, current_ratio=CURRENT_RATIO)
        return inputs

    def records(self, customer: Customer) -> list:
        today, records = timezone.localdate(), []
        capital = customer.registered_capital
        if self.notches:
            records.append(
                CreditReport(
                    customer=customer,
                    entered_by=customer.owner,
                    source=DataSource.CREDIT_BUREAU,
                    as_of=today - datetime.timedelta(days=3),
                    rating=worse_rating(customer.bureau_rating, self.notches),
                    overdue_count=self.overdue,
                    overdue_amount=Decimal("1850000.00") * self.overdue,
                    outstanding_debt=(capital * Decimal("1.4")).quantize(CENT),
                    litigation=self.litigation,
                )
            )
        if self.debt_ratio is not None:
            # The last quarter closed a month ago or more.
            closed = today - datetime.timedelta(days=30)
            quarter_end = datetime.date(closed.year, (closed.month - 1) // 3 * 3 + 1, 1) - datetime.timedelta(days=1)
            assets = (capital * Decimal("3.2")).quantize(CENT)
            current_liabilities = (assets * Decimal("0.32")).quantize(CENT)
            records.append(
                FinancialStatement(
                    customer=customer,
                    entered_by=customer.owner,
                    period=FinancialStatement.Period.QUARTER,
                    as_of=quarter_end,
                    revenue=(assets * Decimal("0.11")).quantize(CENT),
                    net_profit=(assets * Decimal("-0.015")).quantize(CENT),
                    total_assets=assets,
                    total_liabilities=(assets * self.debt_ratio).quantize(CENT),
                    current_assets=(current_liabilities * CURRENT_RATIO).quantize(CENT),
                    current_liabilities=current_liabilities,
                )
            )
        return records


FALL = Worsening(notches=5, overdue=4, litigation=True, debt_ratio=Decimal("0.88"))
BUREAU = Worsening(notches=2, overdue=2)
ACCOUNTS = Worsening(debt_ratio=Decimal("0.83"))


class Command(BaseCommand):
    help = "Create fictional facilities, repayments and alerts for the risk pages (idempotent)."

    def handle(self, *args, **options):
        self.today = timezone.localdate()
        users = {u.username: u for u in User.objects.filter(username__in=["admin", "manager"])}
        if len(users) < 2:
            raise CommandError("The demo users are missing: run seed_demo and seed_demo_deals first.")
        self.admin, self.manager = users["admin"], users["manager"]
        with transaction.atomic():
            opened = self.facilities_open()
            facilities = list(self.demo_facilities())
            fresh = [f for f in facilities if not f.installments.exists()]
            for facility in fresh:
                self.schedule_write(facility)
            stopped = self.stopped_choose(fresh)
            repaid = sum(self.repayments_book(f, fresh=f in fresh, stop=stopped.get(f.pk)) for f in facilities)
            # Two runs of the hourly job with the news arriving between them: the first finds
            # what the seeded portfolio and the repayments hold, the second the worsened credit,
            # whose alerts are then the newest (the dashboard lists the newest first).
            raised = self.hourly_job()
            self.escalation_show()
            self.credit_worsen(facilities, stopped)
            raised += self.hourly_job()
            self.alerts_work()
            # As the next hourly run would: a resolved alert's customer may leave the watch list.
            watch_refresh()
        # Outside the transaction: on PostgreSQL the rebuild takes its own repeatable-read
        # snapshot, as the beat job does.
        rollup_rebuild()
        self.summary(opened=opened, repaid=repaid, raised=raised)

    # --- Facilities --------------------------------------------------------------------------
    def facilities_open(self) -> int:
        """A facility for each funded deal that has none; returns how many were opened.

        seed_demo_deals writes its deals' history directly, so the deals it left in Funded never
        sent ``deal_funded``: each facility is opened by the service that signal's receiver
        calls (risk.services.facility_open), from the day the deal was funded. (A deal funded
        through the pages already has its facility.)"""
        deals = Deal.objects.filter(stage=Stage.FUNDED, facility__isnull=True).order_by("customer__credit_code", "pk")
        for deal in deals:
            start = timezone.localdate(deal.closed_at or deal.stage_entered_at)
            facility_open(deal=deal, by=self.admin, **self.funding(deal, start=start))
        return len(deals)

    def funding(self, deal: Deal, *, start: datetime.date) -> dict:
        rng = random.Random(f"funding:{deal_key(deal)}")
        ceiling = deal.proposed_limit if deal.proposed_limit is not None else deal.amount
        share = Decimal(rng.choice(["1", "1", "0.9", "0.8", "0.75"]))
        # Rounded down to 10,000 yuan, never above the approved limit.
        amount = max((ceiling * share / 10_000).quantize(Decimal(1), rounding=ROUND_DOWN) * 10_000, CENT)
        return {"amount": amount, "start_date": start, "maturity_date": add_months(start, rng.choice([12, 24]))}

    def demo_facilities(self):
        """The facilities this command opened (by the demo admin, as seed_demo records its
        customers): only these get a demo schedule and demo repayments."""
        facilities = Facility.objects.filter(created_by=self.admin).select_related("customer", "deal__customer")
        return facilities.order_by("customer__credit_code", "pk")

    # --- Schedules and repayments --------------------------------------------------------------
    def schedule_write(self, facility: Facility) -> None:
        """Monthly installments from the start to maturity: equal principal, interest on the
        balance at the base rate plus the deal's spread."""
        months = (facility.maturity_date.year - facility.start_date.year) * 12 + (
            facility.maturity_date.month - facility.start_date.month
        )
        rate = BASE_RATE + Decimal(facility.deal.spread_bps or 0) / 10_000
        principal = (facility.drawn / months).quantize(CENT, rounding=ROUND_DOWN)
        balance, rows = facility.drawn, []
        for k in range(1, months + 1):
            part = principal if k < months else balance  # the last one takes the rounding
            interest = (balance * rate / 12).quantize(CENT)
            rows.append((add_months(facility.start_date, k), part, interest))
            balance -= part
        # schedule_set sets only installments due after today (those already due are history it
        # will not rewrite), so the demo writes the past ones directly, as tests/risk do.
        RepaymentInstallment.objects.bulk_create(
            RepaymentInstallment(facility=facility, due_date=due, principal=p, interest=i)
            for due, p, i in rows
            if due <= self.today
        )
        schedule_set(facility=facility, installments=[r for r in rows if r[0] > self.today], by=self.admin)

    def stopped_choose(self, fresh: list[Facility]) -> dict[int, datetime.date]:
        """Of the facilities scheduled in this run, STOPPED whose customer stopped paying at an
        installment due 40–90 days ago: {facility id: the first due date left unpaid}. The demo
        team manager's team first, one per relationship manager, the smallest first: a
        portfolio whose biggest loans went bad would make an implausible dashboard."""
        first, last = self.today - datetime.timedelta(days=90), self.today - datetime.timedelta(days=40)
        stops = {}
        for facility in fresh:
            due = facility.installments.filter(due_date__gte=first, due_date__lte=last).first()
            if due is not None:
                stops[facility] = due.due_date
        order = sorted(stops, key=lambda f: (f.customer.team_id != self.manager.team_id, f.drawn, f.pk))
        owners, chosen = set(), []
        for facility in order:
            if facility.customer.owner_id not in owners:
                owners.add(facility.customer.owner_id)
                chosen.append(facility)
        chosen += [f for f in order if f not in chosen]
        return {f.pk: stops[f] for f in chosen[:STOPPED]}

    def repayments_book(self, facility: Facility, *, fresh: bool, stop: datetime.date | None) -> int:
        """Book the demo repayments received by today and not booked yet; returns how many.

        Most installments are paid on the due date or a day or two after; some payers are often
        late by one to three weeks (not yet paid when that lands after today). A customer who
        stopped paying stays stopped on later runs: an installment due more than 30 days before
        the facility was scheduled that has no repayment marks the stop."""
        installments = list(facility.installments.all())
        booked = set(Repayment.objects.filter(facility=facility).values_list("reference", flat=True))
        if not fresh:
            scheduled_on = timezone.localdate(facility.created_at)
            stop = next(
                (
                    i.due_date
                    for i in installments
                    if i.due_date < scheduled_on - datetime.timedelta(days=30)
                    and self.reference(facility, i) not in booked
                ),
                None,
            )
        late_share = 0.5 if random.Random(f"payer:{deal_key(facility.deal)}").random() < 0.2 else 0.05
        count = 0
        for installment in installments:
            if stop is not None and installment.due_date >= stop:
                break
            reference = self.reference(facility, installment)
            rng = random.Random(f"{deal_key(facility.deal)}:{installment.due_date}")
            delay = rng.randint(5, 20) if rng.random() < late_share else rng.randint(0, 2)
            received_on = installment.due_date + datetime.timedelta(days=delay)
            if received_on > self.today or reference in booked:
                continue
            repayment_record(
                facility=facility,
                received_on=received_on,
                amount=installment.amount,
                reference=reference,
                by=self.admin,
            )
            count += 1
        return count

    @staticmethod
    def reference(facility: Facility, installment: RepaymentInstallment) -> str:
        return REFERENCE.format(code=facility.customer.credit_code[-8:], due=installment.due_date)

    # --- Worsening credit -----------------------------------------------------------------------
    def credit_worsen(self, facilities: list[Facility], stopped: dict) -> None:
        """Three customers with a facility get news through the intake path (one import, so one
        re-grade, whose previous tier and score are those before the news):

        - FALL: to tier B, whose credit limit is below what it has drawn (a limit breach once
          the facility's limit follows), with a bureau downgrade, a score drop, a high debt ratio;
        - BUREAU: bureau downgrade and a score drop of SCORE_DROP or more, same tier;
        - ACCOUNTS: debt ratio too high, same tier.

        Who gets which is decided by grading the news in Python first (customers.grading, the
        pure path), the demo team manager's team first. Once: a bureau report on a demo
        customer (seed_demo enters its reports by hand) marks it done."""
        ids = [f.customer_id for f in facilities]
        if CreditReport.objects.filter(customer_id__in=ids, source=DataSource.CREDIT_BUREAU).exists():
            return
        scorecard = active_scorecard()
        tier_b = TierPolicy.objects.filter(tier=Tier.B).first()
        if scorecard is None or tier_b is None:
            return
        spec = scorecard.spec()
        candidates = sorted(
            (f for f in facilities if f.pk not in stopped and f.customer.tier in (Tier.AA, Tier.A)),
            key=lambda f: (
                f.customer.team_id != self.manager.team_id,
                random.Random(f"worse:{f.customer.credit_code}").random(),
            ),
        )

        def fits(facility: Facility, news: Worsening) -> bool:
            customer = facility.customer
            if news.notches and not customer.bureau_rating:
                return False
            graded = grade(news.inputs(customer), spec)
            if news is FALL:
                tier_b_limit = min(customer.registered_capital * tier_b.capital_multiple, tier_b.limit_cap)
                return graded.tier == Tier.B and facility.drawn > tier_b_limit
            if graded.tier != customer.tier:
                return False
            return news is not BUREAU or (customer.score or 0) - (graded.score or 0) >= SCORE_DROP

        records = []
        for news in (FALL, BUREAU, ACCOUNTS):
            chosen = next((f for f in candidates if fits(f, news)), None)
            if chosen is not None:
                candidates.remove(chosen)
                records += news.records(chosen.customer)
        for record in records:
            record.full_clean()
        if records:
            sources_import(records=records)

    # --- The jobs, and people at work on the alerts -----------------------------------------------
    def hourly_job(self) -> int:
        """The steps of risk.tasks.alerts_evaluate, in its order; returns the alerts raised."""
        facility_limits_follow()
        raised = evaluate()["raised"]
        watch_refresh()
        return raised

    def escalation_show(self) -> None:
        """The escalation job, with one critical alert of the demo team manager's team to
        escalate, once."""
        if not Alert.objects.filter(escalated_at__isnull=False).exists():
            late = (
                self.team_alerts()
                .filter(
                    status=AlertStatus.OPEN,
                    severity=AlertSeverity.CRITICAL,
                    rule__escalate_after_hours__isnull=False,
                )
                .select_related("rule")
                .order_by("rule__kind", "customer__credit_code")
                .first()
            )
            if late is not None:
                # Demo: as if raised yesterday. The job escalates a critical alert nobody
                # acknowledged within its rule's hours, and a demo seeded a minute ago has none;
                # so this one alert and its "opened" event move back past those hours.
                opened_at = late.opened_at - datetime.timedelta(hours=late.rule.escalate_after_hours + 1)
                Alert.objects.filter(pk=late.pk).update(opened_at=opened_at)
                AlertEvent.objects.filter(alert=late, kind=AlertEventKind.OPENED).update(at=opened_at)
        alerts_escalate()

    def alerts_work(self) -> None:
        """The demo team manager acknowledges one alert of the team, resolves another with a
        note and assigns a third to the customer's relationship manager — each once."""
        team = self.team_alerts()
        waiting = team.filter(status=AlertStatus.OPEN, escalated_at__isnull=True).order_by("customer__credit_code")
        if not team.filter(acknowledged_at__isnull=False).exists():
            alert = self.first(waiting, [AlertKind.BUREAU_DOWNGRADE, AlertKind.DEBT_RATIO_HIGH])
            if alert is not None:
                alert_acknowledge(alert=alert, by=self.manager)
        if not team.filter(status=AlertStatus.RESOLVED).exists():
            alert = self.first(waiting, [AlertKind.DEBT_RATIO_HIGH])
            if alert is not None:
                alert_resolve(
                    alert=alert,
                    by=self.manager,
                    note=(
                        "Went through the accounts with the CFO: most of the liabilities are a shareholder "
                        "loan subordinated to ours. No change to the terms; next review as scheduled."
                    ),
                )
        if not team.filter(assignee__isnull=False).exists():
            unresolved = team.filter(status__in=UNRESOLVED).order_by("customer__credit_code")
            alert = self.first(
                unresolved, [AlertKind.TIER_DOWNGRADE, AlertKind.LIMIT_BREACH, AlertKind.PAYMENT_OVERDUE]
            )
            if alert is not None:
                alert_assign(alert=alert, assignee=alert.customer.owner, by=self.manager)

    def team_alerts(self):
        return Alert.objects.filter(customer__team_id=self.manager.team_id)

    @staticmethod
    def first(alerts, kinds: Iterable[str]) -> Alert | None:
        for kind in kinds:
            alert = alerts.filter(rule__kind=kind).select_related("customer__owner", "rule").first()
            if alert is not None:
                return alert
        return None

    def summary(self, *, opened: int, repaid: int, raised: int) -> None:
        facilities = Facility.objects.all()
        severities = dict(
            Alert.objects.filter(status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
            .values_list("severity")
            .annotate(n=Count("pk"))
            .values_list("severity", "n")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo risk data ready: {facilities.count()} facilities ({opened} new), "
                f"{RepaymentInstallment.objects.count()} installments, "
                f"{Repayment.objects.count()} repayments ({repaid} new), "
                f"{raised} alerts raised; unresolved by severity: "
                + ", ".join(f"{s} {severities.get(s, 0)}" for s in AlertSeverity.values)
                + f"; {Customer.objects.filter(watch_review_by__isnull=False).count()} customers on the watch list; "
                f"{RiskMonth.objects.filter(owner_id__isnull=True, team_id__isnull=True).count()} months of figures."
            )
        )
