"""The registry of alert kinds and the check of a rule's fields against it."""

from django.utils.translation import gettext_lazy as _

from customers.choices import Tier
from risk.alerts import grade_kinds, portfolio_kinds
from risk.alerts import params as checks
from risk.alerts.base import Kind
from risk.models import AlertKind

# Parameter names and defaults are part of the data: migration risk/0005 ships rules with them.
KINDS: dict[str, Kind] = {
    AlertKind.TIER_DOWNGRADE: Kind(
        defaults={"from_tiers": [Tier.AA.value, Tier.A.value]},
        check_params=checks.check_from_tiers,
        condition=grade_kinds.tier_downgrade_condition,
        observe=grade_kinds.grade_change_observe,
    ),
    AlertKind.SCORE_DROP: Kind(
        defaults={"points": 10},
        check_params=checks.check_points,
        condition=grade_kinds.score_drop_condition,
        observe=grade_kinds.score_drop_observe,
    ),
    AlertKind.BUREAU_DOWNGRADE: Kind(
        defaults={"notches": 1},
        check_params=checks.check_notches,
        condition=grade_kinds.bureau_downgrade_condition,
        observe=grade_kinds.bureau_downgrade_observe,
    ),
    AlertKind.PAYMENT_OVERDUE: Kind(
        defaults={"days": 30},
        check_params=checks.check_days,
        bad_customers=portfolio_kinds.payment_overdue_bad,
        observe=portfolio_kinds.payment_overdue_observe,
    ),
    AlertKind.DEBT_RATIO_HIGH: Kind(
        defaults={"above": "0.70"},
        check_params=checks.check_above,
        condition=grade_kinds.debt_ratio_high_condition,
        observe=grade_kinds.debt_ratio_high_observe,
    ),
    AlertKind.LIMIT_BREACH: Kind(
        defaults={},
        check_params=checks.check_nothing,
        bad_customers=portfolio_kinds.limit_breach_bad,
        observe=portfolio_kinds.limit_breach_observe,
    ),
    AlertKind.REVIEW_OVERDUE: Kind(
        defaults={"days": 0},
        check_params=checks.check_days,
        bad_customers=portfolio_kinds.review_overdue_bad,
        observe=portfolio_kinds.review_overdue_observe,
    ),
    AlertKind.DEAL_STALE: Kind(
        defaults={"days": 0},
        check_params=checks.check_days,
        bad_customers=portfolio_kinds.deal_stale_bad,
        observe=portfolio_kinds.deal_stale_observe,
    ),
    AlertKind.INPUTS_STALE: Kind(
        defaults={"days": None},  # None: each customer's tier policy (max_data_age_days)
        check_params=checks.check_optional_days,
        condition=grade_kinds.inputs_stale_condition,
        observe=grade_kinds.inputs_stale_observe,
    ),
}


def rule_problems(*, kind: str, params, tiers) -> dict[str, list]:
    """Why a rule with these fields cannot be saved, per field (empty: it can)."""
    problems: dict[str, list] = {}
    spec = KINDS.get(kind)
    if spec is None:
        problems["kind"] = [
            _("“%(kind)s” is not a kind of alert rule; choose one of the list.") % {"kind": kind},
        ]
    if not isinstance(params, dict):
        problems["params"] = [_("Parameters must be a JSON object, e.g. {}.")]
    elif spec is not None:
        unknown = sorted(set(params) - set(spec.defaults))
        if unknown:
            allowed = ", ".join(f'"{k}"' for k in spec.defaults) or _("none")
            problems["params"] = [
                _("Unknown parameters: %(unknown)s. This kind takes: %(allowed)s.")
                % {"unknown": ", ".join(f'"{k}"' for k in unknown), "allowed": allowed}
            ]
        else:
            found = spec.check_params({**spec.defaults, **params})
            if found:
                problems["params"] = found
    if not isinstance(tiers, list) or any(t not in Tier.values for t in tiers):
        problems["tiers"] = [
            _("Tiers must be a list out of %(tiers)s; empty for all tiers.")
            % {"tiers": ", ".join(f'"{t}"' for t in Tier.values)}
        ]
    return problems
