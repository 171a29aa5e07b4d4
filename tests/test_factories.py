"""Every model users create has a factory, and what it builds passes the model's own checks
(choices, lengths, validators, constraints) and the database's: a factory that built impossible
rows would make tests prove nothing. Fields that may be NULL (grading inputs that intake fills
in, terms not yet proposed) may be left empty."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

FACTORIES = [
    factories.CustomerFactory,
    factories.ContactFactory,
    factories.ActivityFactory,
    factories.CreditReportFactory,
    factories.FinancialStatementFactory,
    factories.FundingNeedFactory,
    factories.CooperationRecordFactory,
    factories.TierOverrideFactory,
    factories.DealFactory,
    factories.DealDocumentFactory,
    factories.TermsExceptionFactory,
    factories.FacilityFactory,
    factories.RepaymentInstallmentFactory,
    factories.RepaymentFactory,
    factories.AlertRuleFactory,
    factories.AlertFactory,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_it_builds_a_valid_row(factory):
    row = factory()
    row.full_clean(exclude=[field.name for field in row._meta.fields if field.null])
    assert type(row).objects.filter(pk=row.pk).exists()
