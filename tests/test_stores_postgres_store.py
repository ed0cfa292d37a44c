"""The PostgreSQL store against a real throwaway server (pgserver): same answers as the files store,
one writer, readers that never see half an update, a killed writer, a database that goes away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from bot.cli import compose_service
from bot.config import Settings, load_settings
from bot.errors import (
    ConfigError,
    IndexLockedError,
    KnowledgeError,
    StoreSchemaError,
    StoreUnavailableError,
)
from bot.index.generation import DocumentRecord, IndexRecipe, Manifest, MemoryIndex
from bot.index.update import update_index
from bot.ingest.chunking import Chunk, ChunkerSettings
from bot.service import QuoteService
from bot.shared.log_redaction import redact
from bot.shared.text import keyword_tokens
from bot.stores.files import FileStore
from bot.stores.postgres.db import Database, PgOptions
from bot.stores.postgres.documents import PAGE, PgDocuments
from bot.stores.postgres.postings import LAYOUT, BlockLayout
from bot.stores.postgres.schema import SCHEMA_VERSION
from bot.stores.postgres.store import PgStore
from tests.fakes import FakeEmbedder
from tests.pg_fixture import PgServer
from tests.pg_workers import RECIPE

ROOT = Path(__file__).resolve().parents[1]
STORES = ["files", "postgres"]


_OPENED: list[PgStore] = []  # closed after each test: an unclosed pool's threads outlive it


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def _track(store: PgStore) -> PgStore:
    _OPENED.append(store)
    return store


def _pg(
    url: str, *, layout: BlockLayout = LAYOUT, document_page: int = PAGE, **options: Any
) -> PgStore:
    database = Database(url, PgOptions(**options))
    return _track(PgStore(database, lock_timeout=5, layout=layout, document_page=document_page))


@pytest.fixture
def settings_for(
    make_settings: Callable[..., Settings], pg_url: str
) -> Callable[[str, Path], Settings]:
    def build(kind: str, folder: Path) -> Settings:
        if kind == "files":
            return make_settings(folder)
        return make_settings(folder, index={"store": "postgres"}, database_url=pg_url)

    return build


def _service(settings: Settings, embedder: Any = None, *, writer: bool = True) -> QuoteService:
    """A service that updates the index (as `quotebot index` does), or only reads it."""
    service = compose_service(
        settings, embedder=embedder or FakeEmbedder(), on_notice=lambda m: None
    )
    service.writes_index = writer
    if isinstance(service.store, PgStore):
        _track(service.store)
    return service


def test_readers_serve_the_writers_generation_and_never_write(
    knowledge: Path,
    tmp_path: Path,
    settings_for: Callable[[str, Path], Settings],
    make_settings: Callable[..., Settings],
    pg_url: str,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.txt").write_text("A different folder about harbour pilots.\n")
    reader = _service(settings_for("postgres", elsewhere), writer=False)
    assert not reader.writes_index  # the default for ask, repl and discord without --watch
    with pytest.raises(KnowledgeError, match="run `quotebot index`"):
        reader.refresh()
    written = _service(settings_for("postgres", knowledge)).refresh()
    report = reader.refresh()  # serves the writer's index; its own folder is not indexed
    assert not report.changed_anything and report.generation == written.generation
    assert [r.source for r in reader.sources()] == ["jingzhou-grassroots-party-organizations.txt"]
    assert reader.document_count() == 1
    assert "collective economy" in reader.ask("What kind of economy?").quotes[0].text
    again = _service(settings_for("postgres", knowledge), writer=False)
    assert again.refresh().generation == written.generation  # nothing rewritten by readers
    watching = make_settings(
        elsewhere,
        index={"store": "postgres"},
        knowledge={"path": elsewhere, "watch": True},
        database_url=pg_url,
    )
    assert compose_service(watching, embedder=FakeEmbedder()).writes_index
    assert compose_service(settings_for("files", elsewhere), embedder=FakeEmbedder()).writes_index


# -- the same behaviour on both stores -------------------------------------------------------------


@pytest.mark.parametrize("kind", STORES)
def test_index_then_answer(
    kind: str, knowledge: Path, settings_for: Callable[[str, Path], Settings]
) -> None:
    service = _service(settings_for(kind, knowledge))
    report = service.refresh()
    assert report.added == ["jingzhou-grassroots-party-organizations.txt"]
    answer = service.ask("What kind of economy should the organizations develop?")
    text = next(knowledge.iterdir()).read_text(encoding="utf-8")
    assert not answer.declined and answer.quotes
    for quote in answer.quotes:
        assert text[quote.start : quote.end] == quote.text
    assert "collective economy" in answer.quotes[0].text
    again = _service(settings_for(kind, knowledge))
    assert not again.refresh().changed_anything


@pytest.mark.parametrize("kind", STORES)
def test_incremental_update_embeds_only_what_changed(
    kind: str, tmp_path: Path, settings_for: Callable[[str, Path], Settings]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(30):
        (folder / f"doc{i:02}.txt").write_text(f"Document {i} talks about subject {i}. " * 3)
    embedder = FakeEmbedder()
    service = _service(settings_for(kind, folder), embedder)
    assert service.refresh().chunks_embedded == 30
    embedder.calls.clear()
    (folder / "doc07.txt").write_text("Edited text about a zeppelin.")
    (folder / "new.md").write_text("# Added\n\nA fresh document about a submarine.")
    (folder / "doc10.txt").unlink()
    report = service.refresh()
    assert (report.added, report.changed, report.removed) == (
        ["new.md"],
        ["doc07.txt"],
        ["doc10.txt"],
    )
    assert len(report.unchanged) == 28 and report.chunks_total == 30
    assert sorted(embedder.embedded) == [
        "# Added A fresh document about a submarine.",
        "Edited text about a zeppelin.",
    ]
    assert "zeppelin" in service.ask("zeppelin").quotes[0].text
    assert all(q.source != "doc10.txt" for q in service.ask("subject 10").quotes)
    assert service.index.manifest.generation == 2


@pytest.mark.parametrize("kind", STORES)
def test_model_change_rebuilds(
    kind: str, knowledge: Path, settings_for: Callable[[str, Path], Settings]
) -> None:
    _service(settings_for(kind, knowledge)).refresh()
    other = FakeEmbedder("other-model", dimension=32)
    service = _service(settings_for(kind, knowledge), other)
    report = service.refresh()
    assert report.rebuild_reason and "model changed" in report.rebuild_reason
    assert service.index.manifest.dimension == 32
    assert not service.ask("collective economy").declined


def test_both_stores_give_the_same_answers(
    knowledge: Path, settings_for: Callable[[str, Path], Settings]
) -> None:
    files = _service(settings_for("files", knowledge))
    pg = _service(settings_for("postgres", knowledge))
    files.refresh()
    pg.refresh()
    questions = [
        "What kind of economy should the organizations develop?",
        "Which leaders are listed at the top of the page?",
        "How do the organizations improve service efficiency?",
        "What is the capital of France?",
        "Who wrote this article and when?",
    ]
    for question in questions:
        a, b = files.ask(question), pg.ask(question)
        assert a.declined == b.declined
        assert [(q.source, q.start, q.end, q.highlight) for q in a.quotes] == [
            (q.source, q.start, q.end, q.highlight) for q in b.quotes
        ]
        for qa, qb in zip(a.quotes, b.quotes, strict=True):
            assert qa.score == pytest.approx(qb.score, abs=1e-4)


def test_keyword_scores_and_idf_match_bm25s(knowledge: Path, pg_url: str) -> None:
    """The SQL BM25 is the files store's BM25: same chunks, same scores."""
    store = _pg(pg_url)
    memory, _ = update_index(knowledge, FileStore(knowledge.parent / "idx"), RECIPE, FakeEmbedder())
    pg, _ = update_index(knowledge, store, RECIPE, FakeEmbedder())
    assert isinstance(memory, MemoryIndex)
    texts = {c.text: i for i, c in enumerate(memory.chunks)}
    for question in ["collective economy service", "party party organizations Hubei", "zzz"]:
        tokens = keyword_tokens(question)
        expected = memory.keyword(tokens, 20)
        got = [(texts[pg.chunk(cid).text], score) for cid, score in pg.keyword(tokens, 20)]
        assert [i for i, _ in got] == [i for i, _ in expected]
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-4)
        assert pg.idf(tokens) == pytest.approx(memory.idf(tokens))
        query = FakeEmbedder().encode([question])[0]
        dense_expected = memory.dense(query, 5)
        dense_got = [(texts[pg.chunk(cid).text], s) for cid, s in pg.dense(query, 5)]
        assert [s for _, s in dense_got] == pytest.approx([s for _, s in dense_expected], abs=1e-5)


def _indexes(folder: Path, store: PgStore) -> tuple[MemoryIndex, Any]:
    memory, _ = update_index(folder, FileStore(folder.parent / "idx"), RECIPE, FakeEmbedder())
    pg, _ = update_index(folder, store, RECIPE, FakeEmbedder())
    assert isinstance(memory, MemoryIndex)
    return memory, pg


# Blocks of 4 chunk ids scored 3 blocks at a time: a few hundred chunks then span many blocks
# and batches, as a million chunks do with the real sizes.
SMALL_BLOCKS = BlockLayout(range_bits=2, batch_ranges=3)


def test_keyword_search_is_exact_across_blocks_and_updates(tmp_path: Path, pg_url: str) -> None:
    """240 chunks over a 12-word vocabulary (every term common, many equal scores), then
    documents changed, removed and added: every top 10 holds exactly bm25s' scores, and every
    block holds exactly the postings of the chunks the generation serves."""
    import random

    pick = random.Random(5)
    vocabulary = ["harbour", "pilot", "council", "market", "fleet", "dawn", "dusk", "ferry"]
    vocabulary += ["toll", "bridge", "river", "tide"]
    folder = tmp_path / "docs"
    folder.mkdir()

    def write(name: str, size: int, words: int = 12) -> None:
        text = " ".join(pick.choice(vocabulary[:words]) for _ in range(size))
        (folder / name).write_text(text + ".\n")

    for i in range(240):
        write(f"log-{i:03}.txt", 5 + pick.randrange(40), 3 + i % 10)
    store = _pg(pg_url, layout=SMALL_BLOCKS, retired_grace_seconds=0)
    steps: list[Callable[[], object]] = [
        lambda: None,
        lambda: [write(f"log-{i:03}.txt", 60 + pick.randrange(40)) for i in range(0, 240, 7)],
        lambda: [(folder / f"log-{i:03}.txt").unlink() for i in range(3, 240, 11)],
        lambda: [write(f"new-{i:03}.txt", 20 + pick.randrange(40)) for i in range(9)],
    ]
    for step in steps:
        step()
        memory, pg = _indexes(folder, store)
        _blocks_hold_the_served_chunks(pg_url, SMALL_BLOCKS)
        by_text = {c.text: i for i, c in enumerate(memory.chunks)}
        for question in ["harbour pilot", "council market ferry toll", "tide", "river river dawn"]:
            tokens = keyword_tokens(question)
            exact = dict(memory.keyword(tokens, len(memory.chunks)))
            expected = memory.keyword(tokens, 10)
            got = pg.keyword(tokens, 10)
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-6)
            for cid, score in got:  # ties may order chunks of equal score differently
                assert exact[by_text[pg.chunk(cid).text]] == pytest.approx(score, rel=1e-6)


def test_a_reader_looks_documents_up_instead_of_loading_them(tmp_path: Path, pg_url: str) -> None:
    """Memory that does not grow with the corpus: opening a generation reads no document record;
    citations fetch the ones quoted; listings stream in Python's (code-point) order, a page of
    (here) 3 records at a time."""
    folder = tmp_path / "docs"
    folder.mkdir()
    names = ["b.txt", "B.txt", "a.txt", "Z.txt", "é.txt", "_x.txt", "a b.txt"]
    for name in names:
        (folder / name).write_text(f"Notes of the harbour council, file {name}.\n")
    update_index(folder, _pg(pg_url), RECIPE, FakeEmbedder())
    reader = _pg(pg_url, document_page=3).open()
    assert reader is not None
    documents = reader.manifest.documents
    assert isinstance(documents, PgDocuments) and len(documents) == len(names)
    assert documents.held() == []  # nothing read yet
    assert list(documents) == sorted(names)
    assert [r.source for r in documents.values()] == sorted(names)
    assert [s for s, _ in documents.items()] == sorted(names)
    assert documents["é.txt"].chunks == 1 and documents.get("missing.txt") is None
    assert "a\x00b" not in documents and reader.manifest.chunk_count == len(names)
    assert documents.held() == ["é.txt"]


def test_a_citation_of_a_collected_generation_says_ask_again(tmp_path: Path, pg_url: str) -> None:
    """A reader still answering from a generation whose rows a writer has since collected gets
    "ask again" for a record it cannot find, not a citation silently missing its details."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "harbour.txt").write_text("The harbour pilot boards at dawn.\n")
    (folder / "market.txt").write_text("The market opens at dawn.\n")
    store = _pg(pg_url, retired_grace_seconds=0)
    update_index(folder, store, RECIPE, FakeEmbedder())
    old = _pg(pg_url).open()
    assert old is not None
    (folder / "harbour.txt").unlink()
    update_index(folder, store, RECIPE, FakeEmbedder())  # collects the old rows (no grace)
    with pytest.raises(StoreUnavailableError, match="ask again"):
        old.manifest.documents.get("harbour.txt")
    new = _pg(pg_url).open()
    assert new is not None and new.manifest.documents.get("harbour.txt") is None
    assert new.manifest.documents["market.txt"].chunks == 1


def test_hnsw_build_parameters_come_from_the_settings(knowledge: Path, pg_url: str) -> None:
    update_index(
        knowledge, _pg(pg_url, hnsw_m=24, hnsw_ef_construction=100), RECIPE, FakeEmbedder()
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'quotebot_chunks_hnsw_%'"
        ).fetchone() or ("",)
    assert "m='24'" in definition and "ef_construction='100'" in definition


def _blocks_hold_the_served_chunks(pg_url: str, layout: BlockLayout = LAYOUT) -> None:
    """The current generation's blocks hold exactly one entry per (term, chunk) of the chunks it
    serves, with the chunk's term frequency and length; its term counts are those entries'."""
    from collections import Counter

    from bot.stores.postgres.postings import decode

    with psycopg.connect(pg_url, autocommit=True) as conn:
        (g,) = conn.execute("SELECT generation FROM quotebot_current").fetchone() or (0,)
        visible = "live_from <= %(g)s AND (dead_from IS NULL OR dead_from > %(g)s)"
        stored = dict(
            conn.execute(f"SELECT term, df FROM quotebot_terms WHERE {visible}", {"g": g})
        )
        blocks = conn.execute(
            f"SELECT term, block, postings FROM quotebot_blocks WHERE {visible}", {"g": g}
        ).fetchall()
        chunks = conn.execute(
            "SELECT c.chunk_id, c.text, c.token_count, coalesce(t.terms, '{}') "
            "FROM quotebot_chunks c LEFT JOIN quotebot_chunk_terms t USING (chunk_id) "
            f"WHERE {visible}",
            {"g": g},
        ).fetchall()
        (orphans,) = conn.execute(
            "SELECT count(*) FROM quotebot_chunk_terms t "
            "WHERE NOT EXISTS (SELECT 1 FROM quotebot_chunks c WHERE c.chunk_id = t.chunk_id)"
        ).fetchone() or (0,)
    assert orphans == 0  # collected chunks take their terms with them
    entries = sorted((t, *e) for t, b, data in blocks for e in decode(b, bytes(data), layout))
    expected = []
    for chunk_id, text, token_count, terms in chunks:
        counts = Counter(keyword_tokens(text))
        assert sorted(terms) == sorted(counts) and token_count == max(sum(counts.values()), 1)
        expected += [(t, chunk_id, tf, token_count) for t, tf in counts.items()]
    assert entries == sorted(expected) and entries
    assert stored == Counter(t for t, *_ in entries)
    assert len({(t, b) for t, b, _ in blocks}) == len(blocks)  # one row per block


def test_term_counts_follow_every_update(knowledge: Path, pg_url: str) -> None:
    store = _pg(pg_url, retired_grace_seconds=0)
    folder = knowledge
    (folder / "harbour.txt").write_text("The harbour pilot boards at dawn. Council notes.\n")
    (folder / "market.txt").write_text("The market opens at dawn; the council sets the fees.\n")
    steps: list[Callable[[], object]] = [
        lambda: None,
        lambda: (folder / "harbour.txt").write_text("The harbour closes at dusk.\n"),
        lambda: (folder / "market.txt").unlink(),
        lambda: (folder / "fleet.txt").write_text("A fleet of harbour boats; the council.\n"),
    ]
    for step in steps:
        step()
        memory, pg = _indexes(folder, store)
        _blocks_hold_the_served_chunks(pg_url)
        vocabulary = sorted({t for c in memory.chunks for t in keyword_tokens(c.text)})
        assert pg.idf(vocabulary) == pytest.approx(memory.idf(vocabulary))
        for question in ["harbour council dawn", "party organizations economy"]:
            tokens = keyword_tokens(question)
            assert [s for _, s in pg.keyword(tokens, 10)] == pytest.approx(
                [s for _, s in memory.keyword(tokens, 10)], rel=1e-4
            )


def _downgrade_to_schema_6(pg_url: str) -> None:
    """Put the database back in the shape version 6 of the schema left it: no judge vectors."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE quotebot_judge_vectors")
        conn.execute("DROP TABLE quotebot_judge_models")
        conn.execute("UPDATE quotebot_schema SET version = 6")


def _downgrade_to_schema_5(pg_url: str) -> None:
    """Put the database back in the shape version 5 of the schema left it: no update journal."""
    _downgrade_to_schema_6(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE quotebot_updating")
        conn.execute("UPDATE quotebot_schema SET version = 5")


def _downgrade_to_schema_4(pg_url: str) -> None:
    """Put the database back in the shape version 4 of the schema left it: no changelog."""
    _downgrade_to_schema_5(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE quotebot_changes")
        conn.execute("UPDATE quotebot_schema SET version = 4")


def _downgrade_to_schema_3(pg_url: str) -> None:
    """Put the database back in the shape version 3 of the schema left it: a row per posting
    (with its impact) instead of blocks, and no terms kept with the chunks."""
    from collections import Counter

    _downgrade_to_schema_4(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE quotebot_postings (term text NOT NULL, chunk_id bigint NOT NULL,
            tf integer NOT NULL, token_count integer NOT NULL, live_from bigint NOT NULL,
            dead_from bigint, impact real NOT NULL)"""
        )
        chunks = conn.execute(
            "SELECT chunk_id, text, token_count, live_from, dead_from FROM quotebot_chunks"
        ).fetchall()
        with conn.cursor().copy(
            "COPY quotebot_postings (term, chunk_id, tf, token_count, live_from, dead_from, "
            "impact) FROM STDIN"
        ) as copy:
            for chunk_id, text, n, live, dead in chunks:
                for term, tf in Counter(keyword_tokens(text)).items():
                    impact = tf / (tf + 1.5 * (0.25 + 0.75 * n / 30.0))
                    copy.write_row((term, chunk_id, tf, n, live, dead, impact))
        conn.execute(
            "CREATE INDEX quotebot_postings_impact ON quotebot_postings (term, impact DESC) "
            "INCLUDE (chunk_id, tf, token_count, live_from, dead_from)"
        )
        conn.execute(
            "CREATE INDEX quotebot_postings_chunk ON quotebot_postings (chunk_id, term) "
            "INCLUDE (tf, token_count)"
        )
        conn.execute("DROP TABLE quotebot_blocks")
        conn.execute("DROP TABLE quotebot_chunk_terms")
        conn.execute("ALTER TABLE quotebot_schema ADD COLUMN impact_avgdl double precision")
        conn.execute("UPDATE quotebot_schema SET impact_avgdl = 30.0, version = 3")


def _downgrade_to_schema_2(pg_url: str) -> None:
    """Put the database back in the shape version 2 of the schema left it: no source index, and
    impacts computed with whatever average the writer had (here: a different one)."""
    _downgrade_to_schema_3(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP INDEX quotebot_documents_source")
        conn.execute("ALTER TABLE quotebot_schema DROP COLUMN impact_avgdl")
        conn.execute("UPDATE quotebot_postings SET impact = impact * 0.5 + 0.01 * tf")
        conn.execute("UPDATE quotebot_schema SET version = 2")


def _downgrade_to_schema_1(pg_url: str) -> None:
    """Put the database back in the shape version 1 of the schema left it."""
    _downgrade_to_schema_2(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE quotebot_terms")
        conn.execute("DROP INDEX quotebot_postings_impact")
        conn.execute("DROP INDEX quotebot_postings_chunk")
        conn.execute("ALTER TABLE quotebot_postings DROP COLUMN impact")
        conn.execute(
            "CREATE INDEX quotebot_postings_term ON quotebot_postings (term) "
            "INCLUDE (chunk_id, tf, token_count, live_from, dead_from)"
        )
        conn.execute("CREATE INDEX quotebot_postings_chunk ON quotebot_postings (chunk_id)")
        conn.execute("UPDATE quotebot_schema SET version = 1")


def _read_only_url(pg_url: str) -> str:
    """The same database as a role that may only SELECT (as docs/postgres.md sets readers up)."""
    from urllib.parse import urlsplit, urlunsplit

    role = f"qb_reader_{abs(hash(pg_url)) % 10**6}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    parts = urlsplit(pg_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.mark.parametrize("old_version", [1, 2, 3, 4, 5, 6])
def test_an_older_schema_is_migrated_in_place_by_the_first_process(
    old_version: int, knowledge: Path, pg_url: str
) -> None:
    _, before = _indexes(knowledge, _pg(pg_url))
    tokens = keyword_tokens("collective economy service party")
    expected = before.keyword(tokens, 10)
    downgrade = {
        1: _downgrade_to_schema_1,
        2: _downgrade_to_schema_2,
        3: _downgrade_to_schema_3,
        4: _downgrade_to_schema_4,
        5: _downgrade_to_schema_5,
        6: _downgrade_to_schema_6,
    }
    downgrade[old_version](pg_url)
    read_only = _read_only_url(pg_url)
    with pytest.raises(StoreSchemaError, match="may not migrate"):
        _pg(read_only).open()
    reader = _pg(pg_url).open()  # a reader of the new version migrates
    assert reader is not None
    # ... and (from before 4) publishes the generation again, so old readers reopen and are told
    assert reader.generation == before.generation + (old_version < 4)
    assert reader.keyword(tokens, 10) == [(c, pytest.approx(s, rel=1e-5)) for c, s in expected]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM quotebot_schema").fetchone() == (SCHEMA_VERSION,)
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
    assert "quotebot_postings" not in tables
    assert {"quotebot_changes", "quotebot_updating", "quotebot_judge_vectors"} <= tables
    _blocks_hold_the_served_chunks(pg_url)
    (knowledge / "more.txt").write_text("A harbour pilot and the collective economy.\n")
    memory, pg = _indexes(knowledge, _pg(pg_url))  # and updates continue from there
    _blocks_hold_the_served_chunks(pg_url)
    assert [s for _, s in pg.keyword(tokens, 10)] == pytest.approx(
        [s for _, s in memory.keyword(tokens, 10)], rel=1e-4
    )


@pytest.mark.model
def test_real_model_answers_match_the_files_store(
    knowledge: Path, settings_for: Callable[[str, Path], Settings], real_embedder: Any
) -> None:
    files = _service(settings_for("files", knowledge), real_embedder)
    pg = _service(settings_for("postgres", knowledge), real_embedder)
    for question in [
        "Where in Hubei did grassroots organizations boost their service role?",
        "What will the new role of the organizations be?",
        "What is the fifth measure about?",
    ]:
        a, b = files.ask(question), pg.ask(question)
        assert [(q.start, q.end) for q in a.quotes] == [(q.start, q.end) for q in b.quotes]


# -- migrate ---------------------------------------------------------------------------------------


def test_migrate_copies_the_files_index_without_embedding(
    knowledge: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main

    files = _service(load_settings(None, {"knowledge": {"path": knowledge}}))
    files.refresh()
    monkeypatch.setenv("QUOTEBOT_DATABASE_URL", pg_url)
    assert (
        main(["--knowledge", str(knowledge), "migrate", "--from", "files", "--to", "postgres"]) == 0
    )
    embedder = FakeEmbedder()
    settings = load_settings(
        None, {"knowledge": {"path": knowledge}, "index": {"store": "postgres"}}
    )
    pg = _service(settings, embedder)
    assert not pg.refresh().changed_anything and embedder.calls == []
    question = "Which leaders are listed at the top of the page?"
    assert [(q.start, q.end) for q in pg.ask(question).quotes] == [
        (q.start, q.end) for q in files.ask(question).quotes
    ]


# -- secrets and configuration ---------------------------------------------------------------------


def test_database_url_comes_only_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('database_url = "postgresql://u:pw@h/db"\n')
    with pytest.raises(ConfigError, match="secret"):
        load_settings(config)
    config.write_text('[index]\nstore = "postgres"\ndatabase_url = "postgresql://u:pw@h/db"\n')
    with pytest.raises(ConfigError, match="secret"):
        load_settings(config)
    config.unlink()
    monkeypatch.setenv("QUOTEBOT_DATABASE_URL", "postgresql://u:hunter2@h/db")
    settings = load_settings(None, {"index": {"store": "postgres"}})
    assert settings.database_url is not None
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


def test_postgres_without_a_url_is_a_clear_error(tmp_path: Path) -> None:
    from bot.stores.open_store import open_store

    with pytest.raises(ConfigError, match="QUOTEBOT_DATABASE_URL"):
        open_store(load_settings(None, {"index": {"store": "postgres"}}))


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://bot:s3cr%40t@db.example:5432/kb", "s3cr@t"),
        ("postgresql://bot:hunter2@localhost/kb?sslmode=require", "hunter2"),
        ("postgresql://bot@localhost/kb?password=topsecret", "topsecret"),
        ("host=localhost password='top secret' dbname=kb", "top secret"),
    ],
)
def test_passwords_never_reach_messages(url: str, secret: str) -> None:
    database = Database(url, PgOptions())
    assert secret not in database.describe() and "***" in database.describe()
    message = redact(f"failed for {url} with {secret}", [url])
    assert secret not in message and "s3cr%40t" not in message


def test_unreachable_database_is_temporarily_unavailable_without_the_password() -> None:
    url = "postgresql://bot:hunter2@127.0.0.1:1/kb"
    store = PgStore(Database(url, PgOptions(connect_timeout=1)))
    with pytest.raises(StoreUnavailableError, match="temporarily unavailable") as caught:
        store.open()
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(StoreUnavailableError) as caught, store.writer_lock():
        pass
    assert "hunter2" not in str(caught.value)
    store.close()


# -- schema ----------------------------------------------------------------------------------------


def test_newer_schema_is_refused_and_left_alone(knowledge: Path, pg_url: str) -> None:
    update_index(knowledge, _pg(pg_url), RECIPE, FakeEmbedder())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE quotebot_schema SET version = 99")
        before = conn.execute("SELECT count(*) FROM quotebot_chunks").fetchone()
    store = _pg(pg_url)
    with pytest.raises(StoreSchemaError, match="newer"):
        store.open()
    (knowledge / "more.txt").write_text("A new document about schema versions.")
    with pytest.raises(StoreSchemaError):
        update_index(knowledge, store, RECIPE, FakeEmbedder())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM quotebot_chunks").fetchone() == before
        assert conn.execute("SELECT version FROM quotebot_schema").fetchone() == (99,)


# -- injection -------------------------------------------------------------------------------------

NASTY = [
    "'; DROP TABLE quotebot_chunks; --",
    'Robert"); DROP TABLE quotebot_documents;--',
    "back\\slash \\' \\\\ economy",
    "nul\x00byte economy",
    "$1 %s %(g)s {dim} :name economy",
    "' OR 1=1 --",
]


@pytest.mark.parametrize("question", NASTY)
def test_hostile_questions_are_only_data(question: str, knowledge: Path, pg_url: str) -> None:
    store = _pg(pg_url)
    index, _ = update_index(knowledge, store, RECIPE, FakeEmbedder())
    settings = load_settings(
        None, {"knowledge": {"path": knowledge}, "index": {"store": "postgres"}}
    )
    service = compose_service(settings, embedder=FakeEmbedder(), store=store)
    service.ask(question)
    index.keyword([question, *question.split()], 10)
    index.idf([question])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
    assert {"quotebot_chunks", "quotebot_documents", "quotebot_blocks"} <= tables


def test_hostile_document_names_and_text_round_trip(tmp_path: Path, pg_url: str) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    name = "o'brien; DROP TABLE quotebot_chunks; --.txt"
    text = "Quotes ' \" and back\\slashes \\\\ stay exactly as written in the economy report.\n"
    (folder / name).write_text(text, encoding="utf-8")
    index, _ = update_index(folder, _pg(pg_url), RECIPE, FakeEmbedder())
    assert set(index.manifest.documents) == {name}
    (cid, _), *_ = index.keyword(["economi"], 1)
    chunk = index.chunk(cid)
    assert chunk.source == name and text[chunk.start : chunk.end] == chunk.text


# -- one writer, many readers ----------------------------------------------------------------------


def test_second_writer_waits_then_gives_up(pg_url: str, knowledge: Path) -> None:
    update_index(knowledge, _pg(pg_url), RECIPE, FakeEmbedder())
    first = _pg(pg_url)
    waits: list[str] = []
    second = _track(PgStore(Database(pg_url, PgOptions()), lock_timeout=0.5, on_wait=waits.append))
    with first.writer_lock():
        started = time.monotonic()
        with pytest.raises(IndexLockedError, match="another process"), second.writer_lock():
            pass
        assert time.monotonic() - started >= 0.5
        assert waits and "waiting" in waits[0]
    with second.writer_lock():  # released with the first writer's session
        pass


def test_lock_is_released_when_the_writer_dies(pg_url: str, knowledge: Path) -> None:
    update_index(knowledge, _pg(pg_url), RECIPE, FakeEmbedder())
    holder = _pg(pg_url)
    lock = holder.writer_lock()
    lock.__enter__()
    assert holder._lock_conn is not None
    holder._lock_conn.close()  # the process holding it is gone: the session ends
    with _pg(pg_url).writer_lock():
        pass


def _worker(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pg_workers", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(worker: subprocess.Popen[str]) -> str:
    """Wait for a worker to succeed; its output (pipes read and closed)."""
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    return out


def test_four_readers_never_see_half_an_update(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    _finish(_worker("writer", pg_url, str(folder), "1"))
    readers = [_worker("reader", pg_url, "6") for _ in range(4)]
    time.sleep(0.5)
    for version in range(2, 6):
        _finish(_worker("writer", pg_url, str(folder), str(version)))
    reports = []
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["mixed"] == 0 and r["questions"] >= 3 for r in reports), reports
    assert any(len(r["generations"]) > 1 for r in reports), reports
    assert _pg(pg_url).open().manifest.generation == 5  # type: ignore[union-attr]


@pytest.mark.parametrize("stage", ["rows written", "switching", None])
def test_sigkill_mid_update_keeps_the_previous_generation(
    pg_url: str, tmp_path: Path, stage: str | None
) -> None:
    folder = tmp_path / "kb"
    _finish(_worker("writer", pg_url, str(folder), "1"))
    before = _pg(pg_url).open()
    assert before is not None
    args = ["writer", pg_url, str(folder), "2"] + (["--pause-at", stage] if stage else [])
    victim = _worker(*args)
    assert victim.stdout is not None
    if stage:
        while (line := victim.stdout.readline()) and line.strip() != f"stage {stage}":
            pass
    else:
        time.sleep(0.8)  # somewhere in start-up, hashing, embedding or the commit
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)  # reaps it and closes its pipes
    after = _pg(pg_url).open()
    assert after is not None
    if stage or after.manifest.generation == 1:
        assert after.manifest == before.manifest
        assert len(after.keyword(["marker1"], 500)) == before.manifest.chunk_count
        assert after.keyword(["marker2"], 500) == []
    rerun = _worker("writer", pg_url, str(folder), "2")
    _out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    final = _pg(pg_url).open()
    assert final is not None and final.manifest.generation >= 2
    assert len(final.keyword(["marker2"], 500)) == final.manifest.chunk_count
    assert final.keyword(["marker1"], 500) == []


# -- the database going away -----------------------------------------------------------------------


def test_database_restart_mid_session(
    pg_server: PgServer, pg_url: str, knowledge: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        knowledge,
        index={"store": "postgres"},
        postgres={"connect_timeout_seconds": 1},
        database_url=pg_url,
    )
    service = _service(settings)
    service.refresh()
    question = "What kind of economy should the organizations develop?"
    expected = service.ask(question)
    pg_server.stop()
    try:
        with pytest.raises(StoreUnavailableError, match="temporarily unavailable"):
            service.ask(question)
    finally:
        pg_server.start()
    assert service.ask(question) == expected


def test_writer_retries_while_the_database_is_away(pg_server: PgServer, pg_url: str) -> None:
    store = _track(
        PgStore(
            Database(pg_url, PgOptions(writer_retry_seconds=30, connect_timeout=1)), lock_timeout=5
        )
    )
    waits: list[str] = []
    store._on_wait = waits.append
    manifest = Manifest(
        IndexRecipe("m", ChunkerSettings()),
        4,
        {"a.txt": DocumentRecord("a.txt", "sha", 5, 1, 5, "t")},
        generation=1,
        created_at="t1",
    )
    with store.writer_lock():
        pg_server.stop()
        restart = threading.Timer(2.0, pg_server.start)
        restart.start()
        try:
            index = store.commit(
                manifest, set(), [Chunk("a.txt", 0, 5, "hello", 1)], np.eye(1, 4, dtype=np.float32)
            )
        finally:
            restart.join()
    assert index.manifest.generation == 1 and len(index) == 1
    assert any("retrying" in w for w in waits)


@pytest.mark.subprocess
def test_cli_reports_an_unreachable_database_in_one_line(knowledge: Path) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "QUOTEBOT_INDEX__STORE": "postgres",
        "QUOTEBOT_POSTGRES__CONNECT_TIMEOUT_SECONDS": "1",
        "QUOTEBOT_DATABASE_URL": "postgresql://bot:hunter2@127.0.0.1:1/kb",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--knowledge", str(knowledge), "ask", "What is it?"],
        cwd=knowledge.parent,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "temporarily unavailable" in done.stderr
    assert "hunter2" not in done.stderr


def _cli_with_database(
    url: str, knowledge: Path, *args: str, timeout: str = "5"
) -> subprocess.CompletedProcess[str]:
    """`quotebot [ARGS] ask` with the postgres store at `url`, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUOTEBOT_", "PG"))}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "QUOTEBOT_INDEX__STORE": "postgres",
        "QUOTEBOT_POSTGRES__CONNECT_TIMEOUT_SECONDS": timeout,
        "QUOTEBOT_DATABASE_URL": url,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--knowledge", str(knowledge), "ask", "What is it?"],
        cwd=knowledge.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://bot:hunter2@localhost/kb", "starts with mysql://, which is not a PostgreSQL"),
        ("postgresql://bot:hunter2@localhost/kb?sslmode=sometimes", "sslmode=sometimes"),
        ("host=localhost password=hunter2 dbname=kb sslmode=sometimes", "sslmode=sometimes"),
        ("host=localhost password=hunter2 passwrd=x", 'invalid connection option "passwrd"'),
        ("postgresql://bot:hunter2@no-such-host.invalid/kb", "host name is not known"),
        ("host=no-such-host.invalid password=hunter2 dbname=kb", "host name is not known"),
    ],
)
@pytest.mark.subprocess
def test_cli_names_a_configuration_error_at_once(knowledge: Path, url: str, expected: str) -> None:
    started = time.monotonic()
    done = _cli_with_database(url, knowledge, timeout="30")
    assert time.monotonic() - started < 20  # not after waiting out the connect timeout
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert "temporarily" not in done.stderr and "hunter2" not in done.stderr


@pytest.mark.parametrize(
    "url",
    [
        "host=127.0.0.1 port=1 user=bot password=hunter2 dbname=kb",
        "host=127.0.0.1 port=1 password='hunter2 with spaces' dbname=kb",
        "host=127.0.0.1 port=1 password='hunter2\\'s' dbname=kb",
        "postgresql://bot:hunter2@127.0.0.1:1/kb",
        "postgresql://bot@127.0.0.1:1/kb?password=hunter2",
        "postgres://bot:hunter2%21@127.0.0.1:1/kb",
    ],
)
@pytest.mark.subprocess
def test_cli_never_prints_the_password_even_with_debug(knowledge: Path, url: str) -> None:
    done = _cli_with_database(url, knowledge, timeout="1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "temporarily unavailable" in done.stderr and "***" in done.stderr
    debug = _cli_with_database(url, knowledge, "--debug", timeout="1")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert "StoreUnavailableError" in debug.stderr
    for text in (done.stderr, debug.stderr):
        assert "hunter2" not in text, text
