"""Review reminders: each relationship manager hears once about every review coming due."""

import datetime
import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from crm.models import User
from customers.models import Customer

log = logging.getLogger(__name__)

# Reviews due within this many days (or already past) are in the reminder.
DUE_WITHIN_DAYS = 7


def reviews_flag_due(*, today: datetime.date | None = None) -> dict:
    """Mail each relationship manager one reminder listing their customers whose next review
    is due within ``DUE_WITHIN_DAYS`` days or already past, and who have not been reminded of
    that date (``review_reminded_for``). A new date — a review done, the watch list pulling it
    forward — is reminded of again.

    Rows are claimed before the mail goes out (``review_reminded_for = next_review_date``,
    compare-and-set under a row lock that another worker skips), so two workers never remind of
    the same review twice. A mail that fails to go out gives its rows back for the next run.
    Only active managers with an e-mail address are reminded; the others' customers wait,
    unclaimed, until the customer has an owner who can be told. Returns ``{"mails",
    "customers", "failed"}``."""
    today = today or timezone.localdate()
    due = _due(today)
    counts = {"mails": 0, "customers": 0, "failed": 0}
    owner_ids = list(due.order_by("owner_id").values_list("owner_id", flat=True).distinct())
    for owner in User.objects.filter(pk__in=owner_ids).order_by("pk"):
        rows = _claim(due.filter(owner_id=owner.pk))
        if not rows:
            continue  # another worker got there first
        try:
            _send(owner, rows, today)
        except Exception:
            log.exception("review reminder to %s failed; its %d customers go back in the queue", owner, len(rows))
            # Give back only what is still as this run left it.
            Customer.objects.filter(pk__in=[c["pk"] for c in rows], review_reminded_for=F("next_review_date")).update(
                review_reminded_for=None
            )
            counts["failed"] += 1
            continue
        counts["mails"] += 1
        counts["customers"] += len(rows)
    log.info("review reminders: %(mails)d mails for %(customers)d customers, %(failed)d failed", counts)
    return counts


def _due(today: datetime.date):
    return (
        Customer.objects.filter(
            next_review_date__lte=today + timedelta(days=DUE_WITHIN_DAYS),
            owner__is_active=True,
        )
        .filter(
            # IS DISTINCT FROM: never reminded, or reminded of another date.
            Q(review_reminded_for__isnull=True) | ~Q(review_reminded_for=F("next_review_date"))
        )
        .exclude(owner__email="")
    )


def _claim(due) -> list[dict]:
    """Mark this owner's due rows as reminded and return them; rows another worker holds or
    already marked are left out."""
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        # On PostgreSQL the rows are locked and a concurrent run skips them; SQLite takes the
        # write lock at BEGIN (transaction_mode IMMEDIATE), so runs there queue instead.
        rows = list(
            due.select_for_update(skip_locked=skip_locked, of=("self",) if skip_locked else ())
            .order_by("next_review_date", "name", "pk")
            .values("pk", "code", "name", "next_review_date", "watch_review_by")
        )
        # Compare-and-set: still due and not yet reminded of this date. The rows are ours
        # until commit (locked on PostgreSQL, the only writer on SQLite), so nothing moves the
        # date between the read and this write.
        ids = [row["pk"] for row in rows]
        for start in range(0, len(ids), 1000):
            due.filter(pk__in=ids[start : start + 1000]).update(review_reminded_for=F("next_review_date"))
    return rows


def _send(owner: User, rows: list[dict], today: datetime.date) -> None:
    site = settings.SITE_URL.rstrip("/")
    customers = [
        {
            **row,
            "overdue": row["next_review_date"] < today,
            "url": site + reverse("customers:detail", args=[row["code"]]),
        }
        for row in rows
    ]
    with translation.override(owner.language or settings.LANGUAGE_CODE):
        subject = ngettext(
            "Review due: %(count)d customer",
            "Reviews due: %(count)d customers",
            len(customers),
        ) % {"count": len(customers)}
        body = render_to_string(
            "risk/email/review_reminder.txt",
            {"owner": owner, "customers": customers, "today": today, "within": DUE_WITHIN_DAYS},
        )
    send_mail(subject, body, None, [owner.email])
