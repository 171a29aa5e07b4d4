"""Writes to customers. Each function is one business action in one transaction."""

from typing import Any

from django.db import IntegrityError, transaction

from crm.jobs import job_request
from crm.services import model_update
from customers import tasks
from customers.choices import CustomerStatus
from customers.exceptions import DuplicateCreditCode
from customers.fields import EDITABLE_FIELDS
from customers.models import Activity, Contact, Customer, GradeReason
from customers.regrade import regrade

# Editable fields the scorecard can read: changing one re-grades the customer.
GRADED_FIELDS = {"registered_capital", "industry_position", "credit_rating"}


def customer_create(*, by, owner, **fields: Any) -> Customer:
    data = {k: v for k, v in fields.items() if k in EDITABLE_FIELDS}
    customer = Customer(owner=owner, team_id=owner.team_id, **data)
    customer._history_user = by  # type: ignore[attr-defined]  # django-simple-history reads it
    try:
        with transaction.atomic():
            customer.save()
            regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
            # In the same transaction: the notice is asked for exactly when the customer exists.
            job_request(tasks.customer_created_notify, by=by, customer_id=customer.pk, created_by_id=by.pk)
    except IntegrityError as exc:
        # Two people registering the same company at the same moment: the form's unique check
        # passed for both, the database constraint picks one.
        if Customer.objects.filter(credit_code=customer.credit_code).exists():
            raise DuplicateCreditCode from exc
        raise
    return customer


def customer_update(*, customer: Customer, by, owner=None, **fields: Any) -> list[str]:
    """Apply the changed editable fields (and a new owner, if given); return what changed."""
    changed = model_update(instance=customer, fields=EDITABLE_FIELDS, data=fields)
    if owner is not None and owner.pk != customer.owner_id:
        customer.owner = owner
        customer.team_id = owner.team_id
        changed += ["owner", "team"]
    if not changed:
        return []
    customer._history_user = by  # type: ignore[attr-defined]  # django-simple-history reads it
    try:
        with transaction.atomic():
            customer.save(update_fields=[*changed, "updated_at"])
            if GRADED_FIELDS.intersection(changed):
                regrade(reason=GradeReason.DATA_CHANGED, ids=[customer.pk])
    except IntegrityError as exc:
        if "credit_code" in changed:
            raise DuplicateCreditCode from exc
        raise
    return changed


def customer_funded(*, customer: Customer, by) -> bool:
    """A deal of the customer was funded: a prospect becomes an active customer. Called inside the
    funding move's transaction (funnel.services.deal_move), so both commit or neither. Dormant and
    closed customers are left as they are: someone set that on purpose. Returns whether it changed."""
    with transaction.atomic():
        # Locked and read afresh: the caller's copy may predate an edit committed since.
        current = Customer.objects.select_for_update().get(pk=customer.pk)
        if current.status != CustomerStatus.PROSPECT:
            return False
        current.status = CustomerStatus.ACTIVE
        current._history_user = by  # type: ignore[attr-defined]  # django-simple-history reads it
        current.save(update_fields=["status", "updated_at"])
    customer.status = current.status
    return True


def contact_save(*, contact: Contact, by) -> Contact:
    """Create or update a contact; making one primary demotes the previous primary."""
    with transaction.atomic():
        if contact.is_primary:
            (
                Contact.objects.select_for_update()
                .filter(customer_id=contact.customer_id, is_primary=True)
                .exclude(pk=contact.pk)
                .update(is_primary=False)
            )
        contact.save()
    return contact


def contact_delete(*, contact: Contact, by) -> None:
    contact.delete()


def activity_log(*, customer: Customer, by, kind: str, body: str, occurred_at=None) -> Activity:
    activity = Activity(customer=customer, author=by, kind=kind, body=body)
    if occurred_at is not None:
        activity.occurred_at = occurred_at
    activity.save()
    return activity
