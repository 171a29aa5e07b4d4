"""What every alert kind is made of, and small helpers the kinds share."""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from customers.choices import Tier

# Ranks of the graded tiers. Unrated is missing data, not a worse grade: a customer going from
# AA to Unrated is the "scorecard inputs stale" rule's business, not a downgrade.
TIER_RANK = {Tier.AA: 3, Tier.A: 2, Tier.B: 1}


@dataclass(frozen=True)
class Kind:
    """One kind of alert rule. Its bad state must stay set-based — one query for the whole
    portfolio, no Python loop over customers — because every rule runs over every customer
    each hour; ``observe`` runs only for the few that just turned bad, a batch at a time.

    The bad state is either a ``condition`` on the customer row (a Q: the evaluation decides
    every such rule of a batch in one pass over its rows) or ``bad_customers``, a query of its
    own over other tables."""

    defaults: dict
    check_params: Callable[[dict], list]  # params with defaults applied -> problems
    observe: Callable[..., dict]  # (customer ids, params, today) -> {customer id: observation}
    condition: Callable[[dict, datetime.date], Q] | None = None  # (params, today) -> Q on Customer
    bad_customers: Callable[..., Iterable[int]] | None = None  # (queryset of customers, params, today) -> ids

    def bad(self, customers: QuerySet, params: dict, today: datetime.date) -> Iterable[int]:
        """The ids of ``customers`` in the bad state as of ``today``."""
        if self.condition is not None:
            return customers.filter(self.condition(params, today)).values_list("pk", flat=True)
        assert self.bad_customers is not None, "a kind needs a condition or bad_customers"
        return self.bad_customers(customers, params, today)


def text(value) -> str | None:
    """Observations are JSON: Decimals and dates are kept as their exact text."""
    if value is None:
        return None
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value)


def moment_of(today: datetime.date) -> datetime.datetime:
    """The instant an evaluation "as of ``today``" stands at: now when ``today`` is the current
    local date, else the last instant of that local day (an evaluation of another day)."""
    now = timezone.now()
    if timezone.localdate(now) == today:
        return now
    return timezone.make_aware(datetime.datetime.combine(today, datetime.time.max))
