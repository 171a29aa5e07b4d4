"""Migrations 0008 and 0010 count the deals already there (the two-million-deal benchmark database gets
right totals), and goes back cleanly: without its table and triggers deals are written as
before, and migrating forward again counts those too."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

from funnel.models import Deal
from tests.conftest import (
    closed_totals_kept,
    closed_totals_live,
    stage_totals_kept,
    stage_totals_live,
    unapplied_migrations,
)
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_migration_counts_the_deals_already_there_and_reverses(customer, other_customer):
    DealFactory.create_batch(2, customer=customer)
    try:
        call_command("migrate", "funnel", "0007", verbosity=0)
        assert "funnel_stagetotal" not in connection.introspection.table_names()
        DealFactory(customer=other_customer, stage="approved", probability=80)
        DealFactory(customer=other_customer, stage="funded", stage_entered_at=timezone.now())
        Deal.objects.filter(customer=customer).update(amount=F("amount") + 1)
        Deal.objects.filter(customer=customer).first().delete()
    finally:
        # Every app: going back unapplied the risk migrations that depend on funnel's.
        call_command("migrate", verbosity=0)
    assert unapplied_migrations() == []  # the rest of the suite runs on the whole schema
    kept = stage_totals_kept()
    assert kept == stage_totals_live()
    assert len(kept) == 3
    assert closed_totals_kept() == closed_totals_live() != {}
    DealFactory(customer=other_customer)  # the triggers are back
    DealFactory(customer=customer, stage="lost", lost_reason="pricing")
    assert stage_totals_kept() == stage_totals_live()
    assert closed_totals_kept() == closed_totals_live()
