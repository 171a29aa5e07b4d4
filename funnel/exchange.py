"""The deal list as CSV or XLSX (written by crm.spreadsheets).

Rows are read with ``.iterator(chunk_size=…)`` (a server-side cursor on PostgreSQL), so
exporting two million deals keeps memory flat. Money leaves as exact decimals (number cells in
XLSX), dates as local ISO dates; headers and labels are in the user's language.
"""

from collections.abc import Iterator

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import spreadsheets
from customers.models import Tier
from funnel.models import Deal, DealQuerySet, ProjectType, StageSetting

CHUNK_SIZE = 2000
# Excel's sheet has 1,048,576 rows, one of them the header; a longer file would not open.
XLSX_MAX_ROWS = 1_048_575


def _columns() -> list[spreadsheets.Column]:
    # Labels resolved once per export, not once per row (the stage names are admin-edited).
    stages = {s.stage: s.label for s in StageSetting.objects.all()}
    types = {k: str(v) for k, v in ProjectType.choices}
    tiers = {k: str(v) for k, v in Tier.choices}
    return [
        (_("Deal"), lambda d: d.title),
        (_("Customer"), lambda d: d.customer.name),
        (_("Unified social credit code"), lambda d: d.customer.credit_code),
        (_("Tier"), lambda d: tiers.get(d.customer.tier, d.customer.tier)),
        (_("Team"), lambda d: d.customer.team.name),
        (_("Project type"), lambda d: types.get(d.project_type, d.project_type)),
        (_("Stage"), lambda d: stages.get(d.stage, d.stage)),
        (_("Amount (CNY)"), lambda d: d.amount),
        (_("Probability (%)"), lambda d: d.probability),
        (_("Weighted amount (CNY)"), lambda d: d.weighted_amount),
        (_("Relationship manager"), lambda d: d.owner.username),
        (_("Expected close"), lambda d: d.expected_close),
        # Local dates (Asia/Shanghai): the day the user would name, not the UTC one.
        (_("In stage since"), lambda d: timezone.localdate(d.stage_entered_at)),
        (_("Created"), lambda d: timezone.localdate(d.created_at)),
        (_("Deal code"), lambda d: str(d.code)),
    ]


# Column widths of the XLSX sheet, in the order of _columns().
WIDTHS = (36, 36, 22, 10, 12, 20, 20, 18, 10, 18, 18, 14, 14, 12, 38)


def _deals(queryset: DealQuerySet) -> Iterator[Deal]:
    return queryset.select_related("customer", "customer__team", "owner").iterator(chunk_size=CHUNK_SIZE)


def too_many_for_xlsx(queryset: DealQuerySet) -> bool:
    # Bounded: counts at most one row past the limit, never the whole table.
    return queryset.order_by()[: XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS


def download(queryset: DealQuerySet, fmt: str) -> HttpResponse:
    """The deals as a CSV or XLSX attachment; headers resolved now, in the user's language."""
    return spreadsheets.download(fmt, _columns(), _deals(queryset), name="deals", title=_("Deals"), widths=WIDTHS)
