"""Data intake: adding credit reports, financial statements, funding needs and cooperation
records, by hand or by import. Every write refreshes the customers' grading inputs (the latest
value of each source, copied onto the customer row) and re-grades them in the same
transaction, so a page never shows a tier that disagrees with the data below it."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Min, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf, Round

from customers.models import (
    CooperationRecord,
    CreditReport,
    Customer,
    FinancialStatement,
    FundingNeed,
    GradeReason,
)
from customers.models.sources import SourcedRecord
from customers.regrade import RegradeResult, regrade

SOURCE_MODELS: dict[str, type[SourcedRecord]] = {
    "credit_report": CreditReport,
    "financial_statement": FinancialStatement,
    "funding_need": FundingNeed,
    "cooperation_record": CooperationRecord,
}


def _latest(model, field: str, skip: int = 0):
    """The field of the customer's newest record (``skip=1``: of the one before it)."""
    newest = model.objects.filter(customer_id=OuterRef("pk")).order_by("-as_of", "-id")
    return Subquery(newest.values(field)[skip : skip + 1])


def _ratio(numerator: str, denominator: str):
    ratio = ExpressionWrapper(
        F(numerator) * 1.0 / NullIf(F(denominator), 0),
        output_field=DecimalField(max_digits=9, decimal_places=4),
    )
    newest = (
        FinancialStatement.objects.filter(customer_id=OuterRef("pk"))
        .order_by("-as_of", "-id")
        .annotate(ratio=Round(ratio, 4))
    )
    return Subquery(newest.values("ratio")[:1])


def inputs_refresh(*, customer_ids: Iterable[int]) -> int:
    """Copy the latest source values onto the customers (one UPDATE for all of them)."""
    ids = list(customer_ids)
    first_cooperation = (
        CooperationRecord.objects.filter(customer_id=OuterRef("pk"))
        .values("customer_id")
        .annotate(first=Min("as_of"))
        .values("first")
    )
    return Customer.objects.filter(pk__in=ids).update(
        bureau_rating=Coalesce(_latest(CreditReport, "rating"), Value("")),
        previous_bureau_rating=Coalesce(_latest(CreditReport, "rating", 1), Value("")),
        overdue_count=_latest(CreditReport, "overdue_count"),
        has_litigation=_latest(CreditReport, "litigation"),
        credit_report_date=_latest(CreditReport, "as_of"),
        debt_ratio=_ratio("total_liabilities", "total_assets"),
        current_ratio=_ratio("current_assets", "current_liabilities"),
        statement_date=_latest(FinancialStatement, "as_of"),
        project_amount=_latest(FundingNeed, "project_amount"),
        funding_need_date=_latest(FundingNeed, "as_of"),
        cooperation_since=Subquery(first_cooperation[:1]),
    )


def inputs_changed(*, customer_ids: Iterable[int]) -> RegradeResult:
    """After source rows were added: refresh the inputs and re-grade those customers."""
    ids = sorted(set(customer_ids))
    inputs_refresh(customer_ids=ids)
    return regrade(reason=GradeReason.DATA_CHANGED, ids=ids)


def source_add(kind: str, /, *, customer: Customer, by, **fields):
    """Add one source record of ``kind`` (a SOURCE_MODELS key) and re-grade the customer."""
    model = SOURCE_MODELS[kind]
    with transaction.atomic():
        record = model(customer=customer, entered_by=by, **fields)  # type: ignore[misc]  # each kind has a customer
        record.full_clean()
        record.save()
        inputs_changed(customer_ids=[customer.pk])
    return record


def sources_import(*, records: list) -> RegradeResult:
    """Save validated, unsaved source records of any kinds in one transaction and re-grade the
    customers they touch: all rows or none."""
    with transaction.atomic():
        by_model: dict[type[SourcedRecord], list[SourcedRecord]] = {}
        for record in records:
            by_model.setdefault(type(record), []).append(record)
        for model, rows in by_model.items():
            model._default_manager.bulk_create(rows, batch_size=1000)
        return inputs_changed(customer_ids={r.customer_id for r in records})
