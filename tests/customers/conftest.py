from datetime import date
from decimal import Decimal

import pytest

from tests.factories import CustomerFactory


@pytest.fixture
def graded_customer(rm1):
    """rm1's customer with every input present: grades AA with the shipped scorecard."""
    return CustomerFactory(
        owner=rm1,
        team=rm1.team,
        registered_capital=Decimal("500000000"),
        industry_position="leader",
        bureau_rating="AA",
        has_litigation=False,
        overdue_count=0,
        debt_ratio=Decimal("0.45"),
        current_ratio=Decimal("1.8"),
        project_amount=Decimal("300000000"),
        cooperation_since=date(2018, 1, 1),
    )
