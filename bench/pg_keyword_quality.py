"""Keyword search quality: the files store's BM25 (bm25s) against what PostgreSQL can do in SQL.

    python bench/pg_keyword_quality.py

Keyword-only retrieval over quotebot's own chunks of each evaluation set (no embeddings, no
fusion): hit@1, hit@3 and MRR@10 of the chunk that contains an answer, for

* bm25s over the chunks (what the files store uses),
* quotebot's BM25 over postings blocks in PostgreSQL (`PgIndex.keyword`, exact),
* PostgreSQL full-text search with the English configuration, `ts_rank` and `ts_rank_cd`
  (cover density), the question's lexemes OR-ed (AND-ing them matches almost nothing).

It answers the issue's "full-text search, or whatever scores best": the numbers say which.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.evaluation.questions import contains_answer, load_questions  # noqa: E402
from bot.index.generation import IndexRecipe, MemoryIndex  # noqa: E402
from bot.index.update import update_index  # noqa: E402
from bot.ingest.chunking import ChunkerSettings  # noqa: E402
from bot.shared.text import keyword_tokens  # noqa: E402
from bot.stores.files import FileStore  # noqa: E402
from bot.stores.postgres.db import Database, PgOptions  # noqa: E402
from bot.stores.postgres.store import PgStore  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SETS = {
    "seed_dev": (ROOT / "knowledge", EVAL / "seed_dev.jsonl"),
    "squad_dev": (EVAL / "squad_dev" / "docs", EVAL / "squad_dev" / "questions.jsonl"),
    "formats": (EVAL / "formats" / "docs", EVAL / "formats" / "questions.jsonl"),
}
FTS_QUERY = (
    "SELECT chunk_id, {rank}(to_tsvector('english', text), q) AS r "
    "FROM quotebot_chunks, to_tsquery('english', %(q)s) AS q "
    "WHERE dead_from IS NULL AND to_tsvector('english', text) @@ q ORDER BY r DESC LIMIT 10"
)


def scores(ranked_texts: list[list[str]], answers: list[tuple[str, ...]]) -> dict[str, float]:
    hit1 = hit3 = mrr = 0.0
    for texts, wanted in zip(ranked_texts, answers, strict=True):
        ranks = [i for i, text in enumerate(texts[:10]) if contains_answer(text, wanted)]
        if ranks:
            hit1 += ranks[0] == 0
            hit3 += ranks[0] < 3
            mrr += 1 / (ranks[0] + 1)
    n = max(len(answers), 1)
    return {"hit@1": round(hit1 / n, 3), "hit@3": round(hit3 / n, 3), "mrr@10": round(mrr / n, 3)}


def or_query(conn: Any, question: str) -> str:
    """The question's English lexemes joined with | (quoted, so no tsquery syntax leaks in)."""
    row = conn.execute("SELECT tsvector_to_array(to_tsvector('english', %s))", (question,))
    lexemes = (row.fetchone() or [[]])[0]
    return " | ".join("'" + lexeme.replace("'", "''") + "'" for lexeme in lexemes)


def run_set(name: str, folder: Path, questions_file: Path, url: str, tmp: Path) -> dict[str, Any]:
    import psycopg

    questions = [q for q in load_questions(questions_file) if q.answers]
    recipe = IndexRecipe("fake", ChunkerSettings())
    memory, _ = update_index(folder, FileStore(tmp / name), recipe, FakeEmbedder())
    assert isinstance(memory, MemoryIndex)
    store = PgStore(Database(url, PgOptions()))
    pg, _ = update_index(folder, store, recipe, FakeEmbedder())
    answers = [q.answers for q in questions]
    results: dict[str, Any] = {"questions": len(questions), "chunks": len(memory)}
    bm25s_texts = [
        [memory.chunk(i).text for i, _ in memory.keyword(keyword_tokens(q.question), 10)]
        for q in questions
    ]
    results["bm25s (files store)"] = scores(bm25s_texts, answers)
    sql_texts = [
        [pg.chunk(cid).text for cid, _ in pg.keyword(keyword_tokens(q.question), 10)]
        for q in questions
    ]
    results["BM25 over blocks (postgres store)"] = scores(sql_texts, answers)
    with psycopg.connect(url, autocommit=True) as conn:
        for rank in ("ts_rank", "ts_rank_cd"):
            ranked = []
            for q in questions:
                query = or_query(conn, q.question)
                rows = conn.execute(FTS_QUERY.format(rank=rank), {"q": query}).fetchall()
                ranked.append([pg.chunk(int(cid)).text for cid, _ in rows] if query else [])
            results[f"full-text {rank} (OR of lexemes)"] = scores(ranked, answers)
    store.close()
    return results


def main() -> None:
    import pgserver
    import psycopg

    with tempfile.TemporaryDirectory(prefix="quotebot-kw-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        report = {}
        for number, (name, (folder, questions)) in enumerate(SETS.items()):
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE kw{number}")
            report[name] = run_set(
                name, folder, questions, server.get_uri(f"kw{number}"), Path(tmp)
            )
            for system, row in report[name].items():
                if isinstance(row, dict):
                    print(f"{name:10} {system:36} {row}", file=sys.stderr)
        server.cleanup()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
