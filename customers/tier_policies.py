"""The tier policies in set-based SQL: a policy's figure for each row by the row's tier.
customers.regrade (credit limits, review dates) and risk.services.watch (monitoring intervals) build
their statements from it."""

from crm.sql import Params
from customers.models import TierPolicy


def policies_by_tier() -> dict[str, TierPolicy]:
    """Every tier policy by its tier, read once per job so all its batches use the same terms."""
    return {policy.tier: policy for policy in TierPolicy.objects.all()}


def policy_case(policies: dict[str, TierPolicy], field: str, p: Params, *, tier: str) -> str:
    """The tier policy's ``field``, as a number, for the tier the SQL expression ``tier`` holds
    (e.g. ``"e.tier"``); NULL for a tier without a policy."""
    # The tier is a bound parameter like the value: it comes from a table admins edit.
    whens = " ".join(
        f"WHEN {p.add(tier)} THEN {p.number(getattr(policy, field))}" for tier, policy in sorted(policies.items())
    )
    return f"(CASE {tier} {whens} END)"
