"""The document records of one PostgreSQL generation, read on demand.

A reader's memory must not grow with the number of documents: citations look up the records of
the sources they quote (a small cache keeps the recent ones), and a listing streams the records a
page at a time in source order. Sources compare in code-point order (`COLLATE "C"`), the order
Python sorts strings in, so both stores list documents alike.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import Any

from bot.errors import IndexCorruptError, StoreUnavailableError
from bot.index.generation import DocumentRecord
from bot.shared.lru import LruCache
from bot.stores.postgres.db import Database
from bot.stores.postgres.generation import VISIBLE

PAGE = 500


class PgDocuments(Mapping[str, DocumentRecord]):
    def __init__(
        self,
        db: Database,
        generation: int,
        count: int,
        cache_size: int = 256,
        page: int = PAGE,
    ) -> None:
        self._db = db
        self._page = page
        self._generation = generation
        self._count = count
        self._cache: LruCache[str, DocumentRecord] = LruCache(cache_size)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, source: str) -> DocumentRecord:
        if not isinstance(source, str) or "\x00" in source:
            raise KeyError(source)  # no stored source holds a NUL (PostgreSQL text cannot)
        found = self._cache.get(source)
        if found is not None:
            return found
        with self._db.connection() as conn:
            row = conn.execute(
                'SELECT source, sha256, metadata FROM quotebot_documents WHERE source COLLATE "C" '
                "= %(s)s AND " + VISIBLE,
                {"s": source, "g": self._generation},
            ).fetchone()
            served = (
                None if row else conn.execute("SELECT generation FROM quotebot_current").fetchone()
            )
        if row is None:
            if served is not None and int(served[0]) != self._generation:
                # A newer generation is served: this one's rows may have been collected while
                # the question was answered (as PgIndex.chunk says); a citation must not
                # silently lose its title and pages.
                raise StoreUnavailableError(
                    "the index changed while this question was answered; ask again"
                )
            raise KeyError(source)
        record = self._record(row)
        self._cache.put(source, record)
        return record

    def __iter__(self) -> Iterator[str]:
        for page in self._pages("source"):
            yield from (str(row[0]) for row in page)

    def held(self) -> list[str]:
        """The sources whose records are in memory now (the cache), least recent first."""
        return self._cache.keys()

    def items(self) -> ItemsView[str, DocumentRecord]:
        return _StreamedItems(self)

    def values(self) -> ValuesView[DocumentRecord]:
        return _StreamedValues(self)

    def records(self) -> Iterator[DocumentRecord]:
        """Every record in source order, a page per query (never all in memory at once)."""
        for page in self._pages("source, sha256, metadata"):
            yield from (self._record(row) for row in page)

    def _pages(self, columns: str) -> Iterator[list[Any]]:
        """Keyset pages, so each is one short index scan and no cursor stays open between them."""
        after: str | None = None
        head = f"SELECT {columns} FROM quotebot_documents WHERE {VISIBLE} "
        tail = 'ORDER BY source COLLATE "C" LIMIT %(page)s'
        while True:
            # Two query texts, so every page's plan starts the index scan at `after`.
            query = (
                head + tail
                if after is None
                else head + 'AND source COLLATE "C" > %(after)s ' + tail
            )
            with self._db.connection() as conn:
                rows = conn.execute(
                    query, {"g": self._generation, "after": after, "page": self._page}
                ).fetchall()
            if rows:
                yield rows
            if len(rows) < self._page:
                return
            after = str(rows[-1][0])

    def _record(self, row: Any) -> DocumentRecord:
        source, sha256, metadata = row
        try:
            return DocumentRecord.from_json({**metadata, "source": source, "sha256": sha256})
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(
                f"generation {self._generation} has a broken record for {source!r}: {exc}"
            ) from None


class _StreamedItems(ItemsView[str, DocumentRecord]):
    _mapping: PgDocuments

    def __iter__(self) -> Iterator[tuple[str, DocumentRecord]]:
        for record in self._mapping.records():
            yield record.source, record


class _StreamedValues(ValuesView[DocumentRecord]):
    _mapping: PgDocuments

    def __iter__(self) -> Iterator[DocumentRecord]:
        yield from self._mapping.records()
