"""Reads for customer pages: the queries live here so views and templates stay query-free."""

from dataclasses import dataclass
from datetime import datetime

from crm.models import Team, User
from customers.models import Customer


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    kind: str  # "+" created, "~" changed, "-" deleted
    changes: list[FieldChange]


def _display(field, value, names: dict) -> str:
    if value in (None, ""):
        return "—"
    if field.is_relation:
        return names.get((field.related_model, value), str(value))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def customer_history(customer: Customer, *, limit: int = 25) -> list[HistoryEntry]:
    """The newest changes to a customer, each as who/when and old → new per field.

    Two queries whatever the length: the history rows (one extra to diff the oldest shown) and
    the names of the owners and teams they mention."""
    rows = list(customer.history.select_related("history_user").order_by("-history_id")[: limit + 1])
    fields = {f.name: f for f in Customer._meta.get_fields() if f.concrete}
    # Resolve every owner/team id in one query each instead of one per row.
    owner_ids = {r.owner_id for r in rows}
    team_ids = {r.team_id for r in rows}
    names = {(User, u.pk): str(u) for u in User.objects.filter(pk__in=owner_ids)}
    names |= {(Team, t.pk): str(t) for t in Team.objects.filter(pk__in=team_ids)}

    entries = []
    # Rows pair with the next older one; the oldest shown pairs with None (no diff).
    for newer, older in zip(rows, [*rows[1:], None]):  # noqa: B905 - the None tail is meant
        if len(entries) == limit:
            break
        changes = []
        if older is not None:
            for change in newer.diff_against(older).changes:
                field = fields.get(change.field)
                if field is None:
                    continue
                changes.append(
                    FieldChange(
                        field=str(field.verbose_name),
                        old=_display(field, change.old, names),
                        new=_display(field, change.new, names),
                    )
                )
            if not changes and newer.history_type == "~":
                continue  # a save that changed nothing visible
        entries.append(
            HistoryEntry(
                when=newer.history_date,
                who=str(newer.history_user) if newer.history_user else "—",
                kind=newer.history_type,
                changes=changes,
            )
        )
    return entries
