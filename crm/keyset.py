"""Keyset pages for the long lists (deals, alerts): newest first by a timestamp, ties broken by
id, the cursor being the public code of the first or last row shown. Unlike OFFSET, page 200
costs what page 1 costs, and a row added meanwhile never shifts a page."""

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50
COUNT_CAP = 1000
CURSOR_PARAMS = ("after", "before")


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    has_newer: bool
    has_older: bool

    @property
    def is_first(self) -> bool:
        return not self.has_newer

    @property
    def newest(self):
        return self.rows[0] if self.rows else None

    @property
    def oldest(self):
        return self.rows[-1] if self.rows else None


def _cursor(rows: QuerySet, field: str, code: str | None) -> tuple | None:
    """(timestamp, id) of the row with this code among ``rows``; None for anything else
    (absent, malformed, not visible, filtered out), which the caller treats as page one."""
    if not code:
        return None
    try:
        value = uuid.UUID(code)
    except ValueError:
        return None
    found = list(rows.filter(code=value).order_by().values_list(field, "id")[:1])
    return found[0] if found else None


def _older_than(field: str, at, pk: int) -> Q:
    """(field, id) < (at, pk). The redundant ``field <= at`` is what lets PostgreSQL start the
    index scan at the cursor: it does not turn the OR alone into an index range, and would
    otherwise filter its way down from the newest row."""
    return Q(**{f"{field}__lte": at}) & (Q(**{f"{field}__lt": at}) | Q(**{field: at, "id__lt": pk}))


def _newer_than(field: str, at, pk: int) -> Q:
    return Q(**{f"{field}__gte": at}) & (Q(**{f"{field}__gt": at}) | Q(**{field: at, "id__gt": pk}))


def keyset_page(
    rows: QuerySet, *, field: str, after: str | None = None, before: str | None = None, size: int = PAGE_SIZE
) -> KeysetPage:
    """One page of ``rows``, newest ``field`` first: the page older than the row whose code is
    ``after``, or the page newer than the row ``before``. Ties are broken by id, so every row is
    on exactly one page however many share a timestamp."""
    newest_first = (f"-{field}", "-id")
    if key := _cursor(rows, field, after):
        page = list(rows.filter(_older_than(field, *key)).order_by(*newest_first)[: size + 1])
        # The cursor row itself is newer than this page and still matches, so "Newer" exists.
        return KeysetPage(rows=page[:size], has_newer=True, has_older=len(page) > size)
    if key := _cursor(rows, field, before):
        # Walk the index the other way from the cursor, then put the page back in list order.
        page = list(rows.filter(_newer_than(field, *key)).order_by(field, "id")[: size + 1])
        if len(page) >= size:
            shown = page[:size]
            shown.reverse()
            return KeysetPage(rows=shown, has_newer=len(page) > size, has_older=True)
        # Fewer than a page is newer (rows were deleted or filtered away since the link was
        # made): that is the first page, shown full rather than short.
    page = list(rows.order_by(*newest_first)[: size + 1])
    return KeysetPage(rows=page[:size], has_newer=False, has_older=len(page) > size)


def capped_count(rows: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """(count, capped): "more than 1,000" costs at most 1,001 index entries, where a full COUNT
    over millions of rows would run on every page view."""
    cap = COUNT_CAP if cap is None else cap
    count = rows.order_by()[: cap + 1].count()
    return min(count, cap), count > cap


def page_context(request: HttpRequest, rows: QuerySet, *, field: str, size: int = PAGE_SIZE) -> dict:
    """What a keyset list template needs: the page the request's cursor asks for, the capped
    count and the filters' query string for the paging links (templates/crm/keyset_pager.html)."""
    count, capped = capped_count(rows)
    return {
        "page": keyset_page(
            rows, field=field, after=request.GET.get("after"), before=request.GET.get("before"), size=size
        ),
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
