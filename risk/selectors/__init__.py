"""Reads behind risk's pages and jobs, one module per subject:

- ``facilities``: what is due, repaid and overdue on a facility on a date (the waterfall, and
  the same rule as SQL); its names are also importable from ``risk.selectors`` itself;
- ``facility_pages``: the facility list, a facility's page, and the facilities panel of the
  customer and deal pages;
- ``alerts``: the alert list's rows, one alert's page, the home page's "my alerts";
- ``observations``: what an alert observed, made readable."""

from risk.selectors.facilities import (
    HALF_CENT,
    MONEY,
    ZERO,
    InstallmentCover,
    InstallmentState,
    Position,
    facilities_overdue_more_than,
    facility_position,
    installment_state,
    overdue_more_than,
    overdue_split,
    still_owed,
    waterfall,
    with_overdue,
)

__all__ = [
    "HALF_CENT",
    "MONEY",
    "ZERO",
    "InstallmentCover",
    "InstallmentState",
    "Position",
    "facilities_overdue_more_than",
    "facility_position",
    "installment_state",
    "overdue_more_than",
    "overdue_split",
    "still_owed",
    "waterfall",
    "with_overdue",
]
