"""The customer search's name lookup on PostgreSQL: the trigram index (customers/0018), asked for
the rare words of the text only.

The index answers ``name LIKE '%TEXT%'`` by intersecting the entries of every trigram of the
text. A whole name copied into the box carries the words most names share ("CO., LTD.",
"INFRASTRUCTURE"), whose entries list most of the portfolio: at 1M customers one customer's full
name took 57 ms in the index, its distinctive word alone 2 ms. So when the text has several
words (runs of three or more letters or digits), the index is asked for the words that occur in
the fewest names of a small random sample of the names, and the whole text is then compared
with each name that has them. The result is the same either way; only the work differs.

A text of one word (a Chinese name is one run of characters) is looked up whole, as before.
A text without three letters or digits in a row, which has no trigram to look up ("华能", the
usual short name of a Chinese firm), is looked up in a second index, of each name's characters
and pairs of characters (customers/0020), by its rarest pair.

A text that many names contain all through the alphabet ("Co., Ltd.") is not looked up at all:
the index would hand over most of the portfolio to be sorted (6.3 s at 1M for "CO., LTD."), where
reading the names in the list's order finds a page of matches at once (1 ms). Not so a text
common at one place in name order ("Tianrun …", 11 % of the bench's names, all under T): reading
the firm's names in order would first pass every name before T (2.8 s). But an RM's list has a
few thousand names to pass, where the index hands over the whole firm's 110,000 (1.9 s for the
RM). The same sample, and the rows the list reads as PostgreSQL estimates them, tell the cases
apart (``read_in_order``).
"""

import re
import time

from django.db.backends.base.base import BaseDatabaseWrapper

from crm.keyset import PAGE_SIZE

# Words the index can look up: runs of three letters or digits (pg_trgm's words, at least one
# trigram each). Any run of the text is in every name that contains the text.
WORD = re.compile(r"[^\W_]{3,}")
TRIGRAM = re.compile(r"[^\W_]{3}")  # a text with one has a trigram to look up
NAME_TABLE = "customers_name_search"
GRAMS = "customers_name_grams"  # a name's characters and pairs of them (customers/0020)
SPACES = frozenset(" \t\n\r\f\v")  # what the grams leave out (customers/0020)
SAMPLE_ROWS = 2_000
SAMPLE_SECONDS = 3600  # how long a process keeps its sample; word frequencies drift slowly
# A list in another order than by name (the facilities, newest first) reads a text in its own
# order from this share of the names on: it meets the matches spread through it, about one in
# 1 / share rows, where the index hands over share × portfolio rows to be sorted.
COMMON_SHARE = 0.02
# A match the index hands over costs as much as this many names read in list order: at 1M, ~10 µs
# a match (its customer row fetched by id, then sorted) against ~4 µs a name read in order.
INDEX_ROW_COST = 2.5
PAGE_ROWS = PAGE_SIZE + 1  # what a list page reads: a page, and one more to know of another

_samples: dict[str, tuple[float, list[str], int]] = {}  # per database alias: (when read, names, rows)


def name_sample(db: BaseDatabaseWrapper) -> list[str]:
    """About SAMPLE_ROWS upper-cased names in order, read in random blocks of the search table
    (a millisecond at 1M), kept for SAMPLE_SECONDS in this process."""
    return _sample(db)[1]


def name_rows(db: BaseDatabaseWrapper) -> int:
    """The names in the search table (one per customer) when the sample was read."""
    return _sample(db)[2]


def _sample(db: BaseDatabaseWrapper) -> tuple[float, list[str], int]:
    now = time.monotonic()
    kept = _samples.get(db.alias)
    if kept is not None and now - kept[0] < SAMPLE_SECONDS:
        return kept
    with db.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [NAME_TABLE])
        rows = cursor.fetchone()[0]
        if rows < 0:
            # No ANALYZE yet (autovacuum may be off): count the rows. Sampling the whole table
            # instead read every name into the process and made each search compare its words
            # with a million of them (1.0 s a search at 1M customers).
            cursor.execute(f"SELECT count(*) FROM {NAME_TABLE}")  # noqa: S608 (a constant)
            rows = cursor.fetchone()[0]
        percent = 100.0 if rows < SAMPLE_ROWS else 100.0 * SAMPLE_ROWS / rows
        cursor.execute(f"SELECT name_upper FROM {NAME_TABLE} TABLESAMPLE SYSTEM (%s)", [percent])  # noqa: S608
        names = sorted(name for (name,) in cursor.fetchall())
    _samples[db.alias] = (now, names, max(int(rows), len(names)))
    return _samples[db.alias]


def forget_samples() -> None:
    _samples.clear()


def read_in_order(
    text: str, sample: list[str], *, by_name: bool = True, rows: int | None = None, scope_rows: int | None = None
) -> bool:
    """Whether reading the list's rows in its order finds a page of the text's matches sooner than
    the index does. ``rows``: the names in the whole portfolio (default: the sample's); ``scope_rows``:
    those the list reads, the user's scope and other filters (default: all of them).

    A list in name order (``by_name``) reads, in its scope, every name before the first match in
    name order and then about PAGE_ROWS / share more; the index hands over the matches of the whole
    portfolio, INDEX_ROW_COST each. At 1M, "Tianrun" (11 % of the names, all under T) is read for in
    an RM's few thousand names or a team's 56,000, and looked up firm-wide; a single character in a
    tenth of the names late in the alphabet likewise. A list in another order (facilities, newest
    first) meets the matches spread through it, so there the share alone decides (COMMON_SHARE)."""
    text = text.upper()
    found = [n for n, name in enumerate(sample) if text in name]
    if not found:
        return False  # rarer than the sample can tell: the index hands over next to nothing
    share = len(found) / len(sample)
    if not by_name:
        return share >= COMMON_SHARE
    rows = rows or len(sample)
    scope = rows if scope_rows is None else min(scope_rows, rows)
    in_order = min(scope, scope * found[0] / len(sample) + PAGE_ROWS / share)
    return in_order <= INDEX_ROW_COST * share * rows


def rare_words(text: str, sample: list[str]) -> list[str]:
    """The words of ``text`` to look up in the index: those in no sampled name, or else the one
    in the fewest (the longest of them: more trigrams). Empty when that would be every word.
    The words are returned as written: the database upper-cases them as it does the text."""
    words = list(dict.fromkeys(WORD.findall(text)))
    if len(words) < 2:
        return []
    hits = {word: sum(word.upper() in name for name in sample) for word in words}
    fewest = min(hits.values())
    if fewest == 0:
        chosen = [word for word in words if hits[word] == 0]
    else:
        chosen = [max((word for word in words if hits[word] == fewest), key=len)]
    return [] if len(chosen) == len(words) else chosen


def text_grams(text: str) -> list[str]:
    """What the grams index (customers/0020) holds of a text: its pairs of characters, or, for a
    text of single characters, those; none with an ASCII space in it. The same spaces as the
    index's function, whatever the database's locale: a pair kept here and not there would find
    nothing."""
    pairs = [text[i : i + 2] for i in range(len(text) - 1)]
    grams = [g for g in pairs if not SPACES.intersection(g)] or [c for c in text if c not in SPACES]
    return list(dict.fromkeys(grams))


def short_ids_sql(pattern: str, text: str, sample: list[str]) -> tuple[str, list[str]]:
    """A SELECT of the ids of the names matching the LIKE ``pattern``, for a text the trigram index
    cannot look up (no three letters or digits in a row: "华能", "A1"): the grams index is asked
    for the pairs of characters (or characters) of the text the fewest sampled names contain, and
    the whole text compared with the rows they find."""
    grams = text_grams(text)
    hits = {gram: sum(gram.upper() in name for name in sample) for gram in grams}
    fewest = min(hits.values())
    chosen = [gram for gram in grams if hits[gram] == fewest]
    if fewest:
        chosen = chosen[:1]  # each holds the others back only by a list as long as its own
    wanted = ", ".join("UPPER(%s)" for _gram in chosen)
    return (
        f"SELECT id FROM {NAME_TABLE} WHERE {GRAMS}(name_upper) @> ARRAY[{wanted}]"  # noqa: S608 (parameters)
        " AND (name_upper || '') LIKE UPPER(%s)",
        [*chosen, pattern],
    )


def name_ids_sql(pattern: str, text: str, sample: list[str]) -> tuple[str, list[str]]:
    """A SELECT of the ids of the names matching the LIKE ``pattern`` (the escaped text in %…%),
    with the index asked only for the rare words of ``text``."""
    words = rare_words(text, sample)
    if not words:
        return f"SELECT id FROM {NAME_TABLE} WHERE name_upper LIKE UPPER(%s)", [pattern]  # noqa: S608 (parameters)
    # `name_upper || ''` is no expression of the index: the whole text is compared with the rows
    # the words found, rather than looked up in the index itself.
    lookups = " AND ".join("name_upper LIKE UPPER(%s)" for _word in words)
    return (
        f"SELECT id FROM {NAME_TABLE} WHERE {lookups} AND (name_upper || '') LIKE UPPER(%s)",  # noqa: S608 (parameters)
        [*(f"%{word}%" for word in words), pattern],
    )
