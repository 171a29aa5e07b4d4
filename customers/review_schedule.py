"""When a customer's next review is due: the one rule for ``Customer.next_review_date``.

    next_review_date = min(last_review_date + the tier policy's review interval, watch_review_by)

Two set-based jobs write the column — the re-grade (customers.regrade: the tier, and so the
interval, may have changed) and the watch list (risk.services.watch: the watch date came, moved or went)
— and both build their SET from these functions, so they never disagree and neither undoes the
other. (risk.services.reminders only reads the date: it reminds the relationship manager of it.)"""

from crm.sql import Dialect, Params
from customers.models import TierPolicy
from customers.tier_policies import policy_case


def scheduled_review_sql(d: Dialect, p: Params, policies: dict[str, TierPolicy], *, last_review: str, tier: str) -> str:
    """The regular review date: the last review (SQL expression ``last_review``) plus the
    review interval of the tier in ``tier`` — the tier being written, where a re-grade changes
    it. NULL without a last review or without a policy for the tier."""
    return d.add_days(last_review, policy_case(policies, "review_interval_days", p, tier=tier))


def next_review_sql(*, watch: str, scheduled: str) -> str:
    """The next review date from the watch-list date and the regular one: the watch date if it
    is sooner, else the regular date. No watch date (NULL) leaves the regular date; no regular
    date (NULL: never reviewed, or no policy) leaves none, whatever the watch list says."""
    return f"(CASE WHEN {watch} < {scheduled} THEN {watch} ELSE {scheduled} END)"
