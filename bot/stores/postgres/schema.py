"""The PostgreSQL schema of the index, its version, and the migrations between versions.

Why generations are row ranges: every document, chunk, block and term row carries the generation it
became visible in (`live_from`) and the one that replaced it (`dead_from`, NULL while current).
A reader pins one generation `g` and filters on `live_from <= g AND (dead_from IS NULL OR
dead_from > g)`; a writer inserts rows for `g + 1`, marks replaced rows dead from `g + 1` and moves
`quotebot_current` in the same transaction. So an update costs only what changed, and a reader
sees the old or the new generation, never a mix, without holding a transaction open.

Vectors sit in an untyped `vector` column with a partial HNSW index per dimension on
`embedding::vector(dim)` (pgvector's documented pattern for mixed dimensions): changing the
embedding model is an ordinary generation, not a table rewrite that readers would have to wait for.
"""

from __future__ import annotations

from typing import Any

from bot.errors import ConfigError, StoreSchemaError

SCHEMA_VERSION = 7

# DDL of each version, applied in order from the version the database is at.
_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE quotebot_schema (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            version integer NOT NULL)""",
        """CREATE TABLE quotebot_generations (
            generation bigint PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            manifest jsonb NOT NULL,
            chunk_count bigint NOT NULL,
            token_total bigint NOT NULL)""",
        """CREATE TABLE quotebot_current (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            generation bigint NOT NULL REFERENCES quotebot_generations)""",
        """CREATE TABLE quotebot_documents (
            doc_id bigserial PRIMARY KEY,
            source text NOT NULL,
            sha256 text NOT NULL,
            metadata jsonb NOT NULL,
            live_from bigint NOT NULL,
            dead_from bigint)""",
        "CREATE INDEX quotebot_documents_live ON quotebot_documents (live_from, dead_from)",
        """CREATE TABLE quotebot_chunks (
            chunk_id bigserial PRIMARY KEY,
            doc_id bigint NOT NULL REFERENCES quotebot_documents ON DELETE CASCADE,
            source text NOT NULL,
            start_offset integer NOT NULL,
            end_offset integer NOT NULL,
            paragraph integer NOT NULL,
            text text NOT NULL,
            token_count integer NOT NULL,
            dim integer NOT NULL,
            embedding vector NOT NULL,
            live_from bigint NOT NULL,
            dead_from bigint)""",
        "CREATE INDEX quotebot_chunks_doc ON quotebot_chunks (doc_id)",
        # BM25 postings: one row per (stemmed term, chunk), with what the score formula needs, so
        # keyword search and idf are index scans over the question's terms only.
        """CREATE TABLE quotebot_postings (
            term text NOT NULL,
            chunk_id bigint NOT NULL,
            tf integer NOT NULL,
            token_count integer NOT NULL,
            live_from bigint NOT NULL,
            dead_from bigint)""",
        """CREATE INDEX quotebot_postings_term ON quotebot_postings (term)
            INCLUDE (chunk_id, tf, token_count, live_from, dead_from)""",
        "CREATE INDEX quotebot_postings_chunk ON quotebot_postings (chunk_id)",
    ],
    # Keyword search that does not grow with the corpus: every posting gets its BM25 term-frequency
    # factor (`impact`, computed with the average chunk length when it was written) so each term's
    # best postings are one short index scan; document frequencies live per generation in
    # quotebot_terms instead of being counted over every posting of a term at question time.
    2: [
        "ALTER TABLE quotebot_postings ADD COLUMN impact real",
        """UPDATE quotebot_postings p
            SET impact = p.tf / (p.tf + 1.5 * (0.25 + 0.75 * p.token_count / a.avgdl))
            FROM (SELECT coalesce(max(g.token_total::float8 / nullif(g.chunk_count, 0)), 1.0)
                  AS avgdl FROM quotebot_generations g JOIN quotebot_current c USING (generation)
            ) AS a""",
        "ALTER TABLE quotebot_postings ALTER COLUMN impact SET NOT NULL",
        "DROP INDEX quotebot_postings_term",
        """CREATE INDEX quotebot_postings_impact ON quotebot_postings (term, impact DESC)
            INCLUDE (chunk_id, tf, token_count, live_from, dead_from)""",
        "DROP INDEX quotebot_postings_chunk",
        """CREATE INDEX quotebot_postings_chunk ON quotebot_postings (chunk_id, term)
            INCLUDE (tf, token_count)""",
        """CREATE TABLE quotebot_terms (
            term text NOT NULL,
            df integer NOT NULL,
            live_from bigint NOT NULL,
            dead_from bigint)""",
        "CREATE INDEX quotebot_terms_term ON quotebot_terms (term) INCLUDE (df, live_from, dead_from)",
        """INSERT INTO quotebot_terms (term, df, live_from)
            SELECT p.term, count(*), c.generation FROM quotebot_postings p, quotebot_current c
            WHERE p.live_from <= c.generation
              AND (p.dead_from IS NULL OR p.dead_from > c.generation)
            GROUP BY p.term, c.generation""",
    ],
    # Readers that do not grow with the corpus look documents up by source (citations) instead
    # of loading them all. Keyword search is exact with an early stop (stores/postgres/generation.py): that needs a
    # bound on the postings it has not read, so every impact is now computed with one average
    # chunk length kept for the database (`impact_avgdl`, set by the first write, never changed).
    3: [
        'CREATE INDEX quotebot_documents_source ON quotebot_documents (source COLLATE "C") '
        "INCLUDE (live_from, dead_from)",
        "ALTER TABLE quotebot_schema ADD COLUMN impact_avgdl double precision",
        """UPDATE quotebot_schema SET impact_avgdl = (
            SELECT g.token_total::float8 / nullif(g.chunk_count, 0)
            FROM quotebot_generations g JOIN quotebot_current c USING (generation))""",
        """UPDATE quotebot_postings p
            SET impact = p.tf / (p.tf + 1.5 * (0.25 + 0.75 * p.token_count / s.impact_avgdl))
            FROM quotebot_schema s WHERE s.impact_avgdl IS NOT NULL""",
    ],
    # Exact keyword search at a million chunks: postings packed into blocks (stores/postgres/postings.py), a
    # few hundred rows a question instead of one per posting, summed by the reader. Each chunk's
    # terms are kept beside it (not in quotebot_chunks: rewriting those rows would re-insert
    # every vector into the HNSW index), so an update knows which blocks lose it. Blocks are
    # built for the current generation only, which is then re-published under a new number:
    # readers of an older quotebot notice a new generation, reopen, and are told to upgrade.
    4: [
        """CREATE TABLE quotebot_blocks (
            term text NOT NULL,
            block bigint NOT NULL,
            postings bytea NOT NULL,
            live_from bigint NOT NULL,
            dead_from bigint)""",
        # Read in full every time and hardly compressible: no compression to undo.
        "ALTER TABLE quotebot_blocks ALTER COLUMN postings SET STORAGE EXTERNAL",
        """CREATE TABLE quotebot_chunk_terms (
            chunk_id bigint PRIMARY KEY,
            terms text[] NOT NULL)""",
        """INSERT INTO quotebot_chunk_terms (chunk_id, terms)
            SELECT chunk_id, array_agg(term ORDER BY term) FROM quotebot_postings
            GROUP BY chunk_id""",
        """INSERT INTO quotebot_blocks (term, block, postings, live_from)
            SELECT p.term, p.chunk_id >> 12,
                   string_agg(int2send((p.chunk_id & 4095)::int2)
                              || int2send(least(p.tf, 32767)::int2)
                              || int4send(p.token_count), ''::bytea ORDER BY p.chunk_id),
                   c.generation
            FROM quotebot_postings p, quotebot_current c
            WHERE p.live_from <= c.generation
              AND (p.dead_from IS NULL OR p.dead_from > c.generation)
            GROUP BY p.term, p.chunk_id >> 12, c.generation""",
        """CREATE INDEX quotebot_blocks_term ON quotebot_blocks (term, block)
            INCLUDE (live_from, dead_from)""",
        "DROP TABLE quotebot_postings",
        "ALTER TABLE quotebot_schema DROP COLUMN impact_avgdl",
        """INSERT INTO quotebot_generations (generation, manifest, chunk_count, token_total)
            SELECT generation + 1, manifest, chunk_count, token_total
            FROM quotebot_generations JOIN quotebot_current USING (generation)""",
        "UPDATE quotebot_current SET generation = generation + 1",
    ],
    # The changelog (index/changelog.py): one row per generation that changed documents, written in
    # the transaction that publishes it; pruned there too. Not tied to quotebot_generations,
    # whose rows are collected long before the changelog's.
    5: [
        """CREATE TABLE quotebot_changes (
            generation bigint PRIMARY KEY,
            recorded_at timestamptz NOT NULL,
            entry jsonb NOT NULL)""",
    ],
    # The journal of an update in progress (store.UpdateJournal): committed before the writer
    # embeds, deleted in the transaction that publishes, so a row found by the next writer means
    # the last one was killed (its transaction rolled back) and its work is redone.
    6: [
        """CREATE TABLE quotebot_updating (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            journal jsonb NOT NULL)""",
    ],
    # The answer judge's sentence and word vectors (index/judge_vectors.py, stores/postgres/
    # judge_vectors.py): content-addressed, so outside the generations (valid for all of them)
    # and filled by the writer after it publishes; a model row records the generation through
    # which the table is complete. Empty after the migration: the writer's next run backfills.
    7: [
        """CREATE TABLE quotebot_judge_models (
            model_key serial PRIMARY KEY,
            model text NOT NULL UNIQUE,
            dimension integer NOT NULL,
            complete_generation bigint,
            complete_created_at text)""",
        """CREATE TABLE quotebot_judge_vectors (
            model_key integer NOT NULL REFERENCES quotebot_judge_models ON DELETE CASCADE,
            key bytea NOT NULL,
            vector bytea NOT NULL,
            PRIMARY KEY (model_key, key))""",
        # Read whole every time and not compressible (float32): no compression to undo.
        "ALTER TABLE quotebot_judge_vectors ALTER COLUMN vector SET STORAGE EXTERNAL",
    ],
}


def hnsw_index_name(dimension: int) -> str:
    return f"quotebot_chunks_hnsw_{int(dimension)}"


def hnsw_ddl(dimension: int, m: int = 24, ef_construction: int = 128) -> str:
    """The partial HNSW index for one dimension (int-formatted: DDL takes no bound parameters).
    `m` and `ef_construction` apply when the index is built; an existing one is kept."""
    dim = int(dimension)
    return (
        f"CREATE INDEX IF NOT EXISTS {hnsw_index_name(dim)} ON quotebot_chunks "
        f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) WHERE dim = {dim}"
    )


def read_version(conn: Any) -> int | None:
    """The schema version in the database; None when quotebot never wrote there."""
    row = conn.execute("SELECT to_regclass('quotebot_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return None
    found = conn.execute("SELECT version FROM quotebot_schema").fetchone()
    return None if found is None else int(found[0])


def check_version(version: int | None) -> None:
    """Refuse a schema newer than this code: writing or reading it could misread data."""
    if version is not None and version > SCHEMA_VERSION:
        raise StoreSchemaError(
            f"the index database has schema version {version}, newer than this quotebot "
            f"understands ({SCHEMA_VERSION}); upgrade quotebot. Nothing was changed."
        )


def ensure_schema(conn: Any) -> None:
    """Create or migrate the tables, once, even with several writers starting together."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.qb_migrate'))")
        version = read_version(conn)
        check_version(version)
        if version == SCHEMA_VERSION:
            return
        _ensure_extension(conn)
        for target in range((version or 0) + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO quotebot_schema (id, version) VALUES (true, %s) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            (SCHEMA_VERSION,),
        )


def _ensure_extension(conn: Any) -> None:
    import psycopg

    have = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
    if have:
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.errors.InsufficientPrivilege:
        raise ConfigError(
            "the pgvector extension is not installed in this database and this user may not "
            "install it; run `CREATE EXTENSION vector;` once as a superuser (see docs/postgres.md)"
        ) from None
    except psycopg.errors.FeatureNotSupported as exc:
        raise ConfigError(f"pgvector is not available on this server: {exc}") from None
    except psycopg.errors.UndefinedFile:
        raise ConfigError(
            "pgvector is not installed on this PostgreSQL server (use the pgvector/pgvector image "
            "or install the postgresql-NN-pgvector package; see docs/postgres.md)"
        ) from None
