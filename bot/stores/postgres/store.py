"""The PostgreSQL + pgvector store: one writer, any number of reader processes, one database.

The writer holds a session advisory lock (on its own connection, released by the server if the
writer dies) and commits a generation in one transaction (see stores/postgres/schema.py); readers never lock.
If the database goes away mid-update the transaction is rolled back by the server, and the writer
retries the whole commit with backoff: it either lands once, complete, or not at all.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, replace
from itertools import groupby
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from bot.errors import (
    IndexCorruptError,
    IndexLockedError,
    StoreSchemaError,
    StoreUnavailableError,
)
from bot.index.changelog import ChangeEntry, Retention
from bot.index.generation import IndexRecipe, Manifest, SearchIndex, SkippedRecord
from bot.index.judge_vectors import JudgeVectors
from bot.index.storage import UpdateJournal
from bot.ingest.chunking import Chunk
from bot.shared.lru import LruCache
from bot.shared.text import keyword_tokens
from bot.shared.wording import plural
from bot.stores.postgres.db import Connection, Database, PgOptions
from bot.stores.postgres.documents import PAGE, PgDocuments
from bot.stores.postgres.generation import VISIBLE, PgIndex
from bot.stores.postgres.judge_vectors import PgJudgeTable, PgJudgeVectors
from bot.stores.postgres.postings import (
    LAYOUT,
    BlockLayout,
    block_of,
    chunk_length,
    merged,
    range_blocks,
)
from bot.stores.postgres.schema import (
    SCHEMA_VERSION,
    check_version,
    ensure_schema,
    hnsw_ddl,
    read_version,
)

WRITER_KEY = "SELECT hashtext(current_schema() || '.qb_writer')::bigint"
Stage = Callable[[str], None]


class PgStore:
    def __init__(
        self,
        db: Database,
        lock_timeout: float = 600.0,
        on_wait: Callable[[str], None] | None = None,
        *,
        on_stage: Stage | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retention: Retention | None = None,
        layout: BlockLayout = LAYOUT,
        document_page: int = PAGE,
    ) -> None:
        """`layout` and `document_page` are the stored format's and a reader's page of document
        records; tests pass small ones to exercise many blocks, batches and pages."""
        self._db = db
        self._layout = layout
        self._document_page = document_page
        self._lock_timeout = lock_timeout
        self._on_wait = on_wait
        self._on_stage = on_stage or (lambda stage: None)
        self._sleep = sleep
        self._retention = retention or Retention()
        # Chunk rows never change once written, so one cache serves every generation.
        self._cache: LruCache[int, Chunk] = LruCache(4096)
        self._open: PgIndex | None = None
        self._lock_conn: Connection | None = None
        self._locked = False  # inside writer_lock(), even while reconnecting

    def describe(self) -> str:
        return self._db.describe()

    def close(self) -> None:
        self._db.close()

    # -- the answer judge's vectors (bot.index.judge_vectors) ------------------------------------

    def judge_vectors(self, model_id: str, dimension: int) -> PgJudgeTable:
        """(The schema is current: the writer opened the index, which migrates, first.)"""
        return PgJudgeTable(self._db, model_id, dimension)

    def judge_vector_reader(self, model_id: str, dimension: int) -> JudgeVectors:
        return PgJudgeVectors(self._db, model_id, dimension)

    # -- reading -------------------------------------------------------------------------------

    def read_manifest(self) -> Manifest | None:
        index = self.open()
        return None if index is None else index.manifest

    def open(self) -> PgIndex | None:
        """The current generation (one query when it is the one already open)."""
        with self._db.connection() as conn:
            version = read_version(conn)
            check_version(version)
            if version is None:
                return None
            if version < SCHEMA_VERSION:
                _migrate_as_reader(conn, version)
            row = conn.execute("SELECT generation FROM quotebot_current").fetchone()
            if row is None:
                return None
            generation = int(row[0])
            if self._open is not None and self._open.generation == generation:
                return self._open
            self._open = self._load(conn, generation)
            return self._open

    def read_changes(self) -> list[ChangeEntry]:
        """The changelog rows (no lock: they change only in the writer's publishing transaction)."""
        with self._db.connection() as conn:
            version = read_version(conn)
            check_version(version)
            if version is None or version < 5:
                return []
            rows = conn.execute("SELECT entry FROM quotebot_changes ORDER BY generation").fetchall()
        try:
            return [ChangeEntry.from_json(row[0]) for row in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"the changelog in the database is broken: {exc}") from None

    def export(self) -> tuple[Manifest, list[Chunk], np.ndarray] | None:
        """The current generation in full, for `quotebot migrate --to files`: the documents'
        records, the chunks in source and text order and their vectors as stored (None: no
        index). Reads everything into memory, which a reader never does."""
        index = self.open()
        if index is None:
            return None
        from pgvector.psycopg import register_vector

        dimension = index.manifest.dimension
        with self._db.connection() as conn:
            register_vector(conn)
            rows = conn.execute(
                "SELECT source, start_offset, end_offset, text, paragraph, embedding "
                "FROM quotebot_chunks WHERE " + VISIBLE + " ORDER BY source, start_offset",
                {"g": index.generation},
            ).fetchall()
        chunks = [Chunk(r[0], int(r[1]), int(r[2]), r[3], int(r[4])) for r in rows]
        vectors = np.zeros((len(rows), dimension), dtype=np.float32)
        for row, found in enumerate(rows):
            vectors[row] = found[5].to_numpy()  # pgvector.Vector: float32, as stored
        documents = dict(index.manifest.documents.items())
        return replace(index.manifest, documents=documents, chunk_total=None), chunks, vectors

    def latest(self, serving: SearchIndex) -> SearchIndex:
        """What a reader should answer from now: a newer generation if a writer committed one."""
        with self._db.connection() as conn:
            row = conn.execute("SELECT generation FROM quotebot_current").fetchone()
        if row is None or (isinstance(serving, PgIndex) and serving.generation == int(row[0])):
            return serving
        return self.open() or serving

    def _load(self, conn: Connection, generation: int) -> PgIndex:
        """The generation's description only: documents are looked up when quoted, so a reader's
        memory does not grow with the corpus."""
        row = conn.execute(
            "SELECT manifest, chunk_count, token_total FROM quotebot_generations "
            "WHERE generation = %s",
            (generation,),
        ).fetchone()
        if row is None:
            raise IndexCorruptError(f"generation {generation} is current but has no record")
        meta, chunk_count, token_total = row
        if "document_count" in meta:
            document_count = int(meta["document_count"])
        else:  # written before the count was recorded
            counted = conn.execute(
                "SELECT count(*) FROM quotebot_documents WHERE " + VISIBLE, {"g": generation}
            ).fetchone()
            document_count = int(counted[0]) if counted else 0
        try:
            manifest = Manifest(
                recipe=IndexRecipe.from_json(meta["recipe"]),
                dimension=int(meta["dimension"]),
                documents=PgDocuments(
                    self._db, generation, document_count, page=self._document_page
                ),
                skipped={s: SkippedRecord(**r) for s, r in meta.get("skipped", {}).items()},
                generation=generation,
                created_at=str(meta["created_at"]),
                model_info=dict(meta.get("model_info", {})),
                chunk_total=int(chunk_count),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"generation {generation} has a broken record: {exc}") from None
        return PgIndex(
            self._db, manifest, int(chunk_count), int(token_total), self._cache, self._layout
        )

    # -- writing -------------------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        self._lock_conn = self._acquire(wait_message=True)
        self._locked = True
        try:
            self._collect_garbage()  # what the last writer's grace period left behind
            yield
        finally:
            self._locked = False
            self._end_update()
            conn, self._lock_conn = self._lock_conn, None
            if conn is not None:
                with suppress(psycopg.Error):
                    conn.close()  # the session ends and the server drops its advisory lock

    def _acquire(self, *, wait_message: bool) -> Connection:
        conn = self._db.connect()
        try:
            ensure_schema(conn)
            deadline = time.monotonic() + self._lock_timeout
            warned = False
            while not _try_lock(conn):
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another process has been updating the index at {self.describe()} "
                        f"for more than {self._lock_timeout:.0f} s; try again later"
                    )
                if wait_message and not warned and self._on_wait:
                    self._on_wait(
                        f"another process is updating the index at {self.describe()}; "
                        f"waiting up to {self._lock_timeout:.0f} s"
                    )
                warned = True
                self._sleep(0.2)
        except BaseException:
            conn.close()
            raise
        return conn

    def commit(
        self,
        manifest: Manifest,
        keep_sources: set[str],
        new_chunks: list[Chunk],
        new_vectors: np.ndarray,
        *,
        change: ChangeEntry | None = None,
        history: Sequence[ChangeEntry] | None = None,
    ) -> PgIndex:
        """One transaction; on a lost connection, retried with backoff for writer_retry_seconds."""
        vectors = new_vectors.reshape(len(new_chunks), -1) if new_chunks else new_vectors
        if new_chunks and vectors.shape[1] != manifest.dimension:
            raise ValueError("vectors disagree with the manifest's dimension")
        deadline = time.monotonic() + self._db.options.writer_retry_seconds
        delay = 0.5
        lost = False
        while True:
            try:
                if lost:
                    self._relock()
                self._commit_once(manifest, keep_sources, new_chunks, vectors, change, history)
                break
            except (StoreUnavailableError, psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if time.monotonic() + delay > deadline:
                    if isinstance(exc, StoreUnavailableError):
                        raise
                    raise self._db.unavailable(exc) from None
                if self._on_wait:
                    self._on_wait(f"index database unreachable; retrying in {delay:.1f} s")
                self._sleep(delay)
                delay = min(delay * 2, 10.0)
                lost = True
        self._collect_garbage()
        self._vacuum()
        index = self.open()
        assert index is not None
        return index

    def _vacuum(self) -> None:
        """Mark the new rows all-visible and refresh planner statistics now, not whenever
        autovacuum gets to it (the planner then knows the new blocks and chunks).
        Cheap after small updates (VACUUM skips pages that are already all-visible)."""
        try:
            with self._db.connection() as conn:
                for table in (
                    "quotebot_blocks",
                    "quotebot_terms",
                    "quotebot_chunks",
                    "quotebot_chunk_terms",
                    "quotebot_documents",
                ):
                    conn.execute(f"VACUUM (ANALYZE) {table}")
        except (StoreUnavailableError, psycopg.Error):
            pass  # an optimisation only; autovacuum catches up

    def _relock(self) -> None:
        """After a lost connection: a new session, and the advisory lock again if we held it."""
        if not self._locked:
            return
        if self._lock_conn is not None:
            with suppress(psycopg.Error):
                self._lock_conn.close()
            self._lock_conn = None
        self._lock_conn = self._acquire(wait_message=False)

    def _commit_once(
        self,
        manifest: Manifest,
        keep_sources: set[str],
        chunks: list[Chunk],
        vectors: np.ndarray,
        change: ChangeEntry | None = None,
        history: Sequence[ChangeEntry] | None = None,
    ) -> None:
        if self._locked and (self._lock_conn is None or self._lock_conn.closed):
            raise StoreUnavailableError("lost the connection holding the writer lock")
        own = not self._locked
        conn = self._db.connect() if own else self._lock_conn
        assert conn is not None
        try:
            if own:
                ensure_schema(conn)
            from pgvector.psycopg import register_vector

            register_vector(conn)
            with conn.transaction():
                if own:  # no writer_lock() around us (migrate, tests): lock for this transaction
                    conn.execute(f"SELECT pg_advisory_xact_lock(({WRITER_KEY}))")
                _write_generation(
                    conn,
                    manifest,
                    keep_sources,
                    chunks,
                    vectors,
                    self._on_stage,
                    self._db.options,
                    self._layout,
                )
                _write_changes(conn, change, self._retention, history)
                conn.execute("DELETE FROM quotebot_updating")  # this update is saved
                self._on_stage("changelog written")
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            raise IndexCorruptError(f"the database refused the update: {exc}") from None
        finally:
            if own:
                conn.close()

    def begin_update(self, journal: UpdateJournal) -> UpdateJournal | None:
        """Record what this update is about to do (committed now, on the lock's connection) and
        return the record a killed writer left behind. Nothing of a killed update is kept: the
        server rolled its transaction back. A record whose generation is already published is
        dropped quietly (that writer was killed after its commit, before it could clear it)."""
        try:
            with self._journal_connection() as conn, conn.transaction():
                row = conn.execute("SELECT journal FROM quotebot_updating").fetchone()
                current = conn.execute("SELECT generation FROM quotebot_current").fetchone()
                conn.execute(
                    "INSERT INTO quotebot_updating (id, journal) VALUES (true, %s) "
                    "ON CONFLICT (id) DO UPDATE SET journal = excluded.journal",
                    (Jsonb(journal.to_json()),),
                )
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._db.unavailable(exc) from None
        except psycopg.Error as exc:
            raise IndexCorruptError(f"the database refused the update: {exc}") from None
        if row is None:
            return None
        try:
            left = UpdateJournal.from_json(row[0])
        except (KeyError, TypeError, ValueError):
            return UpdateJournal("", 0, 0, 0)  # unreadable: still evidence of an interrupted run
        if current is not None and left.generation <= int(current[0]):
            return None
        return left

    @contextmanager
    def _journal_connection(self) -> Iterator[Connection]:
        """The writer lock's own connection when held (the journal belongs to the lock holder),
        else a pooled one."""
        if self._lock_conn is not None and not self._lock_conn.closed:
            yield self._lock_conn
            return
        with self._db.connection() as conn:
            yield conn

    def _end_update(self) -> None:
        """Any exit the writer lives through (an error, Ctrl-C) ends its update, as on the files
        store: only a killed writer leaves its journal for the next one to report."""
        conn = self._lock_conn
        if conn is None or conn.closed:
            return
        with suppress(psycopg.Error):
            conn.execute("DELETE FROM quotebot_updating")

    def tidy(self) -> None:
        """Drop rows replaced longer ago than the grace period (safe beside a writer: no reader
        can still be using them, and a writer only marks rows, it never revives them)."""
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        """Drop rows no reader can still be using: replaced longer than the grace period ago."""
        grace = self._db.options.retired_grace_seconds
        try:
            with self._db.connection() as conn, conn.transaction():
                row = conn.execute(
                    "SELECT max(generation) FROM quotebot_generations "
                    "WHERE created_at <= now() - make_interval(secs => %s)",
                    (grace,),
                ).fetchone()
                if row is None or row[0] is None:
                    return
                horizon = int(row[0])
                conn.execute("DELETE FROM quotebot_blocks WHERE dead_from <= %s", (horizon,))
                conn.execute("DELETE FROM quotebot_terms WHERE dead_from <= %s", (horizon,))
                conn.execute(
                    "WITH gone AS (DELETE FROM quotebot_chunks WHERE dead_from <= %s "
                    "RETURNING chunk_id) DELETE FROM quotebot_chunk_terms t USING gone "
                    "WHERE t.chunk_id = gone.chunk_id",
                    (horizon,),
                )
                conn.execute("DELETE FROM quotebot_documents WHERE dead_from <= %s", (horizon,))
                conn.execute(
                    "DELETE FROM quotebot_generations WHERE generation < %s AND generation NOT IN "
                    "(SELECT generation FROM quotebot_current)",
                    (horizon - 1,),
                )
        except StoreUnavailableError:
            pass  # the next commit collects


def _migrate_as_reader(conn: Connection, version: int) -> None:
    """The first process of a newer quotebot migrates an older schema (others wait on its lock).
    Older readers still running meet the newer schema when they next open a generation: they
    are told to upgrade (migration 4 publishes the current one again under a new number for
    that, as their postings table is gone). A read-only role cannot migrate, and is told who can."""
    try:
        ensure_schema(conn)
    except psycopg.errors.InsufficientPrivilege:
        raise StoreSchemaError(
            f"the index database has schema version {version}, older than this quotebot "
            f"({SCHEMA_VERSION}), and this role may not migrate it; run `quotebot index` once "
            "as the writer's role"
        ) from None


def _try_lock(conn: Connection) -> bool:
    row = conn.execute(f"SELECT pg_try_advisory_lock(({WRITER_KEY}))").fetchone()
    return bool(row and row[0])


def _write_generation(
    conn: Connection,
    manifest: Manifest,
    keep_sources: set[str],
    chunks: list[Chunk],
    vectors: np.ndarray,
    on_stage: Stage,
    options: PgOptions,
    layout: BlockLayout,
) -> None:
    """Everything inside the caller's transaction: nothing is visible until it commits."""
    row = conn.execute("SELECT generation FROM quotebot_current FOR UPDATE").fetchone()
    current = None if row is None else int(row[0])
    new = manifest.generation
    if current is not None and new <= current:
        raise IndexLockedError(
            f"another writer committed generation {current} meanwhile; run the update again"
        )
    keep = sorted(keep_sources)
    meta = {
        "recipe": manifest.recipe.to_json(),
        "dimension": manifest.dimension,
        "skipped": {s: asdict(r) for s, r in sorted(manifest.skipped.items())},
        "model_info": manifest.model_info,
        "created_at": manifest.created_at,
        "document_count": len(manifest.documents),
    }
    conn.execute(
        "INSERT INTO quotebot_generations (generation, manifest, chunk_count, token_total) "
        "VALUES (%s, %s, 0, 0)",
        (new, Jsonb(meta)),
    )
    removed: dict[int, list[str]] = {}  # chunk id -> its terms, of chunks this update removes
    if current is not None:
        params = {"g": current, "new": new, "keep": keep}
        retired = f"WHERE {VISIBLE} AND NOT (source = ANY(%(keep)s::text[]))"
        conn.execute(f"UPDATE quotebot_documents SET dead_from = %(new)s {retired}", params)
        retire_chunks = f"UPDATE quotebot_chunks SET dead_from = %(new)s {retired}"
        if keep:  # a full rebuild replaces every block and every term's count
            rows = conn.execute(
                f"WITH dead AS ({retire_chunks} RETURNING chunk_id) "
                "SELECT t.chunk_id, t.terms FROM dead JOIN quotebot_chunk_terms t USING (chunk_id)",
                params,
            ).fetchall()
            removed = {int(chunk_id): list(terms) for chunk_id, terms in rows}
        else:
            conn.execute(retire_chunks, params)
            conn.execute(f"UPDATE quotebot_blocks SET dead_from = %(new)s WHERE {VISIBLE}", params)
    doc_ids = _insert_documents(conn, manifest, keep_sources, new)
    added_terms, added_blocks = _insert_chunks(conn, chunks, vectors, doc_ids, new, layout)
    _write_blocks(conn, current if keep else None, new, removed, added_blocks, layout)
    removed_terms = Counter(term for terms in removed.values() for term in terms)
    _update_term_counts(conn, current, new, added_terms, removed_terms, full=not keep)
    on_stage("rows written")
    if chunks:
        # An HNSW build is several times slower once its graph outgrows this memory.
        conn.execute(
            "SELECT set_config('maintenance_work_mem', %s, true)",
            (f"{int(options.build_memory_mb)}MB",),
        )
        conn.execute(hnsw_ddl(manifest.dimension, options.hnsw_m, options.hnsw_ef_construction))
    counted = conn.execute(
        "SELECT (SELECT count(*) FROM quotebot_chunks WHERE " + VISIBLE + "), "
        "(SELECT coalesce(sum(token_count), 0) FROM quotebot_chunks WHERE " + VISIBLE + "), "
        "(SELECT count(*) FROM quotebot_documents WHERE " + VISIBLE + ")",
        {"g": new},
    ).fetchone()
    assert counted is not None
    count, tokens, documents = (int(value) for value in counted)
    if count != manifest.chunk_count or documents != len(manifest.documents):
        raise IndexCorruptError(
            f"generation {new} would hold {plural(count, 'chunk')} of "
            f"{plural(documents, 'document')}; "
            f"the manifest says {manifest.chunk_count} of {len(manifest.documents)}"
        )
    conn.execute(
        "UPDATE quotebot_generations SET chunk_count = %s, token_total = %s WHERE generation = %s",
        (count, tokens, new),
    )
    conn.execute(
        "INSERT INTO quotebot_current (id, generation) VALUES (true, %s) "
        "ON CONFLICT (id) DO UPDATE SET generation = excluded.generation",
        (new,),
    )
    on_stage("switching")


def _write_changes(
    conn: Connection,
    change: ChangeEntry | None,
    retention: Retention,
    history: Sequence[ChangeEntry] | None = None,
) -> None:
    """The generation's changelog row, and the retention applied, in its publishing transaction;
    with `history` (a migrated changelog), the rows are replaced by it."""
    if history is not None:
        conn.execute("DELETE FROM quotebot_changes")
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO quotebot_changes (generation, recorded_at, entry) VALUES (%s, %s, %s)",
                [
                    (e.generation, e.moment, Jsonb(e.to_json()))
                    for e in retention.prune([*history, *([change] if change else [])])
                ],
            )
        return
    if change is None:
        return
    conn.execute(
        "INSERT INTO quotebot_changes (generation, recorded_at, entry) VALUES (%s, %s, %s) "
        "ON CONFLICT (generation) DO UPDATE SET recorded_at = excluded.recorded_at, "
        "entry = excluded.entry",
        (change.generation, change.moment, Jsonb(change.to_json())),
    )
    conn.execute(
        "DELETE FROM quotebot_changes WHERE recorded_at < %s - make_interval(secs => %s) "
        "OR generation NOT IN (SELECT generation FROM quotebot_changes "
        "ORDER BY generation DESC LIMIT %s)",
        (change.moment, retention.days * 86400.0, retention.max_entries),
    )


def _insert_documents(
    conn: Connection, manifest: Manifest, keep_sources: set[str], generation: int
) -> dict[str, int]:
    doc_ids: dict[str, int] = {}
    with conn.cursor() as cursor:
        for source, record in manifest.documents.items():
            if source in keep_sources:
                continue
            data = asdict(record)
            del data["source"], data["sha256"]
            cursor.execute(
                "INSERT INTO quotebot_documents (source, sha256, metadata, live_from) "
                "VALUES (%s, %s, %s, %s) RETURNING doc_id",
                (source, record.sha256, Jsonb(data), generation),
            )
            found = cursor.fetchone()
            assert found is not None
            doc_ids[source] = int(found[0])
    return doc_ids


def _update_term_counts(
    conn: Connection,
    current: int | None,
    new: int,
    added: Counter[str],
    removed: Counter[str],
    *,
    full: bool,
) -> None:
    """Each changed term's document frequency as a row of the new generation (the old row dies)."""
    old: dict[str, int] = {}
    if current is not None and full:
        conn.execute(
            f"UPDATE quotebot_terms SET dead_from = %(new)s WHERE {VISIBLE}",
            {"g": current, "new": new},
        )
    elif current is not None:
        changed = sorted(set(added) | set(removed))
        rows = conn.execute(
            f"UPDATE quotebot_terms SET dead_from = %(new)s WHERE term = ANY(%(terms)s::text[]) "
            f"AND {VISIBLE} RETURNING term, df",
            {"g": current, "new": new, "terms": changed},
        ).fetchall()
        old = {str(term): int(df) for term, df in rows}
    with conn.cursor().copy(
        "COPY quotebot_terms (term, df, live_from) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "int4", "int8"])
        for term in sorted(set(added) | set(removed) | set(old)):
            df = old.get(term, 0) + added[term] - removed[term]
            if df < 0:
                raise IndexCorruptError(f"term counts disagree with the postings for {term!r}")
            if df:
                copy.write_row((term, df, new))


def _insert_chunks(
    conn: Connection,
    chunks: list[Chunk],
    vectors: np.ndarray,
    doc_ids: dict[str, int],
    generation: int,
    layout: BlockLayout,
) -> tuple[Counter[str], dict[tuple[str, int], bytes]]:
    """The chunks, their vectors and terms, and their postings' blocks, one range of chunk ids
    at a time (the writer holds one range's postings, never the corpus's). Returns how many new
    chunks hold each term, and the blocks of the first range, which `_write_blocks` may have
    to merge with the ones already there."""
    document_frequency: Counter[str] = Counter()
    if not chunks:
        return document_frequency, {}
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT nextval(pg_get_serial_sequence('quotebot_chunks', 'chunk_id')) "
            "FROM generate_series(1, %s) ORDER BY 1",  # ascending: one group per id range
            (len(chunks),),
        ).fetchall()
    ]
    as_f32 = np.ascontiguousarray(vectors, dtype=np.float32)
    first_range: dict[tuple[str, int], bytes] = {}
    for block, group in groupby(range(len(ids)), key=lambda row: block_of(ids[row], layout)):
        rows = list(group)
        start, end = rows[0], rows[-1] + 1
        terms = [Counter(keyword_tokens(chunk.text)) for chunk in chunks[start:end]]
        for counted in terms:
            document_frequency.update(counted.keys())
        _copy_chunks(
            conn, ids[start:end], chunks[start:end], as_f32[start:end], terms, doc_ids, generation
        )
        _copy_rows(
            conn,
            "quotebot_chunk_terms (chunk_id, terms)",
            ["int8", "text[]"],
            ((cid, sorted(t)) for cid, t in zip(ids[start:end], terms, strict=True) if t),
        )
        blocks = range_blocks(list(zip(ids[start:end], terms, strict=True)), layout)
        if start == 0:
            first_range = {(term, block): data for term, data in blocks.items()}
        else:
            _copy_blocks(conn, ((term, block, data) for term, data in blocks.items()), generation)
    return document_frequency, first_range


def _copy_chunks(
    conn: Connection,
    ids: list[int],
    chunks: list[Chunk],
    vectors: np.ndarray,
    terms: list[Counter[str]],
    doc_ids: dict[str, int],
    generation: int,
) -> None:
    dim = int(vectors.shape[1])
    rows = (
        (
            chunk_id,
            doc_ids[chunk.source],
            chunk.source,
            chunk.start,
            chunk.end,
            chunk.paragraph,
            chunk.text,
            chunk_length(counted),
            dim,
            vector,
            generation,
        )
        for chunk_id, chunk, vector, counted in zip(ids, chunks, vectors, terms, strict=True)
    )
    _copy_rows(
        conn,
        "quotebot_chunks (chunk_id, doc_id, source, start_offset, end_offset, paragraph, "
        "text, token_count, dim, embedding, live_from)",
        ["int8", "int8", "text", "int4", "int4", "int4", "text", "int4", "int4", "vector", "int8"],
        rows,
    )


def _copy_blocks(
    conn: Connection, blocks: Iterable[tuple[str, int, bytes]], generation: int
) -> None:
    """(term, block, postings) rows of the new generation."""
    _copy_rows(
        conn,
        "quotebot_blocks (term, block, postings, live_from)",
        ["text", "int8", "bytea", "int8"],
        ((term, block, data, generation) for term, block, data in blocks),
    )


def _copy_rows(
    conn: Connection, target: str, types: list[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """COPY rows into `target` ("table (columns)") in PostgreSQL's binary format."""
    with conn.cursor().copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _write_blocks(
    conn: Connection,
    merge_with: int | None,
    generation: int,
    removed: dict[int, list[str]],
    added: dict[tuple[str, int], bytes],
    layout: BlockLayout,
) -> None:
    """The new generation's changed blocks. A block that loses removed chunks, or gains new
    chunks in a range the previous generation already had blocks in (`added` holds the first
    range of the new ids: the only one that can be, as new ids are higher than every old one),
    is rewritten from the `merge_with` generation's row, which dies."""
    drop: dict[tuple[str, int], set[int]] = {}
    for chunk_id, terms in removed.items():
        for term in terms:
            drop.setdefault((term, block_of(chunk_id, layout)), set()).add(chunk_id)
    touched = set(drop)
    if merge_with is not None:
        touched.update(added)
    rows: list[tuple[str, int, bytes]] = []
    if merge_with is not None and touched:
        keys = sorted(touched)
        replaced = conn.execute(
            "UPDATE quotebot_blocks b SET dead_from = %(new)s "
            "FROM unnest(%(terms)s::text[], %(blocks)s::int8[]) AS k(term, block) "
            "WHERE b.term = k.term AND b.block = k.block AND b.live_from <= %(g)s "
            "AND b.dead_from IS NULL RETURNING b.term, b.block, b.postings",
            {
                "new": generation,
                "g": merge_with,
                "terms": [term for term, _ in keys],
                "blocks": [block for _, block in keys],
            },
            binary=True,
        ).fetchall()
        for term, block, old in replaced:
            key = (str(term), int(block))
            data = merged(bytes(old), drop.get(key, set()), added.pop(key, None), layout)
            if data:
                rows.append((*key, data))
    rows.extend((term, block, data) for (term, block), data in added.items())
    _copy_blocks(conn, rows, generation)
