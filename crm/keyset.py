"""Keyset pages for the long lists (deals, alerts, facilities, customers): rows in a fixed order
of one or more columns, the last of them the id so that the order is total, the cursor being
the public code of the first or last row shown. Unlike OFFSET, page 200 costs what page 1 costs,
and a row added meanwhile never shifts a page.

An order is a tuple of column names, each with "-" for descending, e.g. ``("-created_at",
"-id")`` (newest first) or ``("name", "id")``; a column may be an annotation on the rows (the
customer list's tier rank). Directions may be mixed, but an index serves a page only if its
columns run in the same directions (or all reversed, scanned backwards). Sort columns must be
NOT NULL: SQL's comparisons skip a NULL, so a row with one would fall off every page but the
first; the order is checked for that."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, Expression, F, Q, QuerySet, Subquery
from django.http import HttpRequest

PAGE_SIZE = 50
COUNT_CAP = 1000
CURSOR_PARAMS = ("after", "before")

Order = tuple[str, ...]


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    has_newer: bool  # a page before this one (towards the top of the list)
    has_older: bool  # a page after this one

    @property
    def is_first(self) -> bool:
        return not self.has_newer

    @property
    def newest(self):
        return self.rows[0] if self.rows else None

    @property
    def oldest(self):
        return self.rows[-1] if self.rows else None


def newest_first(field: str) -> Order:
    """The order the ``field=`` shorthand stands for: ``field`` descending, ties by id."""
    return (f"-{field}", "-id")


def _columns(order: Order) -> list[tuple[str, bool]]:
    """[(column, descending)] of an order."""
    return [(name.removeprefix("-"), name.startswith("-")) for name in order]


def _reversed(order: Order) -> Order:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in order)


def _check(rows: QuerySet, order: Order) -> None:
    columns = _columns(order)
    if not order or columns[-1][0] not in ("id", "pk"):
        raise ValueError(f"A keyset order must end with the id, to be total: {order!r}")
    for column, _desc in columns:
        try:
            field = rows.model._meta.get_field(column)
        except FieldDoesNotExist:
            continue  # an annotation: its expression must not be NULL (e.g. a CASE with a default)
        if field.null:
            raise ValueError(f"{column} may be NULL: a keyset page would skip those rows")


def _anchor(rows: QuerySet, code: str | None) -> QuerySet | None:
    """The row with this code among ``rows``, as a queryset to read its sort keys from in a
    subquery; None when the code is no UUID at all. A code not among ``rows`` (absent, not
    visible, filtered out) makes the subqueries NULL and the page empty: the caller then shows
    page one, so a cursor never tells anything about a row the user may not see."""
    if not code:
        return None
    try:
        value = uuid.UUID(code)
    except ValueError:
        return None
    return rows.filter(code=value).order_by()


class _RowCompare(Expression):
    """``(a, b, id) > (A, B, ID)``: SQL's row comparison, lexicographic like a sort. PostgreSQL
    makes it one index range starting exactly at the cursor, however few distinct values the
    leading column has (the tier sort's rank has four); SQLite has it since 3.15."""

    output_field = BooleanField()

    def __init__(self, lhs: list, op: str, rhs: list):
        super().__init__()
        self.lhs, self.op, self.rhs = list(lhs), op, list(rhs)

    def get_source_expressions(self) -> list:
        return [*self.lhs, *self.rhs]

    def set_source_expressions(self, exprs: Sequence) -> None:
        self.lhs, self.rhs = list(exprs[: len(self.lhs)]), list(exprs[len(self.lhs) :])

    def as_sql(self, compiler, connection):
        sides, params = [], []
        for side in (self.lhs, self.rhs):
            parts = []
            for expression in side:
                sql, sql_params = compiler.compile(expression)
                parts.append(sql)
                params.extend(sql_params)
            sides.append(f"({', '.join(parts)})")
        return f"{sides[0]} {self.op} {sides[1]}", params


def _beyond(order: Order, anchor: QuerySet) -> Q | Expression:
    """Rows after the anchor row in ``order``: for (a, b, id) that is a > A, or a = A and b > B,
    or a = A and b = B and id > ID, each column compared in its own direction.

    The anchor's values come in as scalar subqueries, so the cursor costs no query of its own
    and a deep page runs exactly the queries of the first (PostgreSQL evaluates each once, by
    the unique index on code, before the scan). When all columns run the same way this is one
    row comparison, which PostgreSQL turns into an index range. With mixed directions it is the
    OR spelled out, plus the redundant bound on the leading column (``a >= A``): that is what
    lets PostgreSQL start the index scan at the cursor, since it does not turn the OR alone into
    an index range and would otherwise filter its way down from the top."""
    columns = _columns(order)
    key = {column: Subquery(anchor.values(column)[:1]) for column, _desc in columns}
    if len({desc for _column, desc in columns}) == 1:
        op = "<" if columns[0][1] else ">"
        return _RowCompare([F(column) for column, _desc in columns], op, [key[c] for c, _desc in columns])

    def past(column: str, desc: bool) -> Q:
        return Q(**{f"{column}__{'lt' if desc else 'gt'}": key[column]})

    condition = past(*columns[-1])
    for column, desc in reversed(columns[:-1]):
        condition = past(column, desc) | (Q(**{column: key[column]}) & condition)
    lead, desc = columns[0]
    return Q(**{f"{lead}__{'lte' if desc else 'gte'}": key[lead]}) & condition


def keyset_page(
    rows: QuerySet,
    *,
    order: Order | None = None,
    field: str | None = None,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of ``rows`` in ``order`` (or newest ``field`` first, the shorthand): the page
    after the row whose code is ``after``, or the page before the row ``before``, else the first
    page. The id in the order breaks ties, so every row is on exactly one page however many
    share the other columns."""
    if order is None:
        if field is None:
            raise TypeError("keyset_page() needs order= or field=")
        order = newest_first(field)
    order = tuple(order)
    _check(rows, order)
    if (anchor := _anchor(rows, after)) is not None:
        page = list(rows.filter(_beyond(order, anchor)).order_by(*order)[: size + 1])
        if page:
            # The cursor row itself comes before this page and still matches: "Previous" exists.
            return KeysetPage(rows=page[:size], has_newer=True, has_older=len(page) > size)
        # Unknown cursor, or nothing after it any more: page one.
    elif (anchor := _anchor(rows, before)) is not None:
        # Walk the index the other way from the cursor, then put the page back in list order.
        backwards = _reversed(order)
        page = list(rows.filter(_beyond(backwards, anchor)).order_by(*backwards)[: size + 1])
        if len(page) >= size:
            shown = page[:size]
            shown.reverse()
            return KeysetPage(rows=shown, has_newer=len(page) > size, has_older=True)
        # Fewer than a page comes before (rows were deleted or filtered away since the link was
        # made, or the cursor is unknown): that is the first page, shown full rather than short.
    page = list(rows.order_by(*order)[: size + 1])
    return KeysetPage(rows=page[:size], has_newer=False, has_older=len(page) > size)


def capped_count(rows: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """(count, capped): "more than 1,000" costs at most 1,001 index entries, where a full COUNT
    over millions of rows would run on every page view."""
    cap = COUNT_CAP if cap is None else cap
    count = rows.order_by()[: cap + 1].count()
    return min(count, cap), count > cap


def page_context(
    request: HttpRequest,
    rows: QuerySet,
    *,
    order: Order | None = None,
    field: str | None = None,
    size: int = PAGE_SIZE,
    counted: tuple[int, bool] | None = None,
) -> dict:
    """What a keyset list template needs: the page the request's cursor asks for, the capped
    count and the filters' query string for the paging links (templates/crm/keyset_pager.html).
    ``counted``: the rows' capped count (count, capped) where the caller has it more cheaply."""
    page = keyset_page(
        rows, order=order, field=field, after=request.GET.get("after"), before=request.GET.get("before"), size=size
    )
    if counted is not None:
        count, capped = counted
    elif page.is_first and not page.has_older:
        # The page holds every row (a narrow filter, a search for one name): they are the count,
        # and the rows' query, which may be costly, runs once rather than twice.
        count, capped = min(len(page.rows), COUNT_CAP), len(page.rows) > COUNT_CAP
    else:
        count, capped = capped_count(rows)
    return {
        "page": page,
        "count": count,
        "count_capped": capped,
        "query": query_without_cursor(request),
    }


def query_without_cursor(request: HttpRequest) -> str:
    """The list's query string (its filters) without the page cursor, for the paging links."""
    query = request.GET.copy()
    for name in CURSOR_PARAMS:
        query.pop(name, None)
    return query.urlencode()
