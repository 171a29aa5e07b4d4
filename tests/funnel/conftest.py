from decimal import Decimal

import pytest

from funnel import services
from tests.factories import CustomerFactory, make_graded_customer


@pytest.fixture
def ready_customer(rm1):
    """rm1's customer graded AA with a recent credit report and a statement on file: every
    evidence gate up to Approved can be met."""
    return make_graded_customer(owner=rm1, team=rm1.team, name="华东光伏电站项目有限公司")


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
