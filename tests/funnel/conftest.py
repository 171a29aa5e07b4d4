import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import GradeReason
from customers.regrade import regrade
from funnel import services
from funnel.models import ChecklistItem, Deal, Stage
from tests.factories import CustomerFactory


def graded(customer_factory_kwargs: dict):
    """A customer with every grading input present, graded by the shipped scorecard."""
    today = timezone.localdate()
    customer = CustomerFactory(
        **{
            "registered_capital": Decimal("500000000"),
            "industry_position": "leader",
            "bureau_rating": "AA",
            "has_litigation": False,
            "overdue_count": 0,
            "debt_ratio": Decimal("0.45"),
            "current_ratio": Decimal("1.8"),
            "project_amount": Decimal("300000000"),
            "cooperation_since": datetime.date(2018, 1, 1),
            "credit_report_date": today - datetime.timedelta(days=30),
            "statement_date": today - datetime.timedelta(days=90),
            **customer_factory_kwargs,
        }
    )
    regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
    customer.refresh_from_db()
    return customer


def approve(deal: Deal, by) -> Deal:
    """Take a deal of a ready customer from Prospect to Approved as its RM would: one layer at a
    time, every due-diligence checklist item ticked before approval."""
    for stage in (Stage.PRELIMINARY, Stage.DUE_DILIGENCE):
        deal = services.deal_move(deal=deal, to_stage=stage, seen_stage=deal.stage, by=by)
    for item in ChecklistItem.objects.filter(is_active=True):
        services.checklist_set(deal=deal, item=item, by=by, done=True)
    return services.deal_move(deal=deal, to_stage=Stage.APPROVED, seen_stage=deal.stage, by=by)


@pytest.fixture
def ready_customer(rm1):
    """rm1's customer graded AA with a recent credit report and a statement on file: every
    evidence gate up to Approved can be met."""
    return graded({"owner": rm1, "team": rm1.team, "name": "华东光伏电站项目有限公司"})


@pytest.fixture
def bare_customer(rm1):
    """rm1's customer with no credit report and no statement: Unrated."""
    return CustomerFactory(owner=rm1, team=rm1.team, name="新兴风电开发有限公司")


@pytest.fixture
def deal(ready_customer, rm1):
    """rm1's deal in Prospect identified, created through the service (timeline included)."""
    return services.deal_create(
        by=rm1,
        customer=ready_customer,
        title="光伏电站二期融资",
        project_type="renewable",
        amount=Decimal("80000000.00"),
    )
