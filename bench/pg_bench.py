"""Files store vs PostgreSQL + pgvector at scale: latency, recall@10 against exact search, HNSW build
time, and the memory of a reader process.

    python bench/pg_bench.py            # quick: 100,000 chunks
    python bench/pg_bench.py --full     # 1,000,000 chunks (HNSW build takes a long time on 2 cores)
    QUOTEBOT_DATABASE_URL=... python bench/pg_bench.py   # against your server instead of pgserver

The corpus is synthesised from the real chunks of knowledge/ and the squad dev documents: each
synthetic chunk mixes two real chunk vectors plus noise (then re-normalised) and takes a real chunk's
text with a share of its words dropped and a few words of other chunks mixed in, so both the vector
and the keyword distributions look like documents, not uniform noise. Questions are the squad dev
questions, embedded with the bundled model. Exact top-10 (a full numpy scan) is the ground truth.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.config import PostgresSettings  # noqa: E402
from bot.index.generation import DocumentRecord, IndexRecipe, Manifest, MemoryIndex  # noqa: E402
from bot.ingest.chunking import Chunk, ChunkerSettings, chunk_text  # noqa: E402
from bot.shared.text import keyword_tokens  # noqa: E402

EF_CANDIDATES = (40, 64, 100, 160, 250, 400, 600, 800)
CANDIDATES = 50  # what the service asks each method for
PER_DOCUMENT = 100


def base_corpus() -> tuple[list[Chunk], list[str]]:
    folders = [ROOT / "knowledge", ROOT.parent / "shared" / "eval" / "squad_dev" / "docs"]
    chunks: list[Chunk] = []
    for folder in folders:
        for path in sorted(folder.glob("*")):
            if path.suffix in {".txt", ".md"}:
                text = path.read_text(encoding="utf-8")
                chunks += chunk_text(path.name, text, ChunkerSettings())
    questions_file = ROOT.parent / "shared" / "eval" / "squad_dev" / "questions.jsonl"
    questions = [json.loads(line)["question"] for line in questions_file.read_text().splitlines()]
    return chunks, questions


def synthesise(
    base: list[Chunk], base_vectors: np.ndarray, n: int, seed: int = 7
) -> tuple[list[Chunk], np.ndarray]:
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    first = rng.integers(0, len(base), n)
    second = rng.integers(0, len(base), n)
    weight = rng.uniform(0.55, 0.95, n).astype(np.float32)[:, None]
    vectors = weight * base_vectors[first] + (1 - weight) * base_vectors[second]
    vectors += rng.normal(0, 0.02, vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [chunk.text.split() for chunk in base]
    chunks = []
    for i in range(n):
        own = [w for w in words[first[i]] if pick.random() > 0.25]
        mixed = own + pick.sample(words[second[i]], min(8, len(words[second[i]])))
        text = " ".join(mixed)
        start = (i % PER_DOCUMENT) * 10_000
        chunks.append(Chunk(f"synth/{i // PER_DOCUMENT:06}.txt", start, start + len(text), text, 1))
    return chunks, vectors.astype(np.float32)


def manifest_for(chunks: list[Chunk], dimension: int) -> Manifest:
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.source] = counts.get(chunk.source, 0) + 1
    documents = {
        s: DocumentRecord(s, f"sha-{s}", 0, c, 0, "2026-01-01T00:00:00") for s, c in counts.items()
    }
    recipe = IndexRecipe("sentence-transformers/all-MiniLM-L6-v2", ChunkerSettings())
    return Manifest(recipe, dimension, documents, generation=1, created_at="bench")


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    truth = []
    for start in range(0, len(queries), 16):
        scores = queries[start : start + 16] @ vectors.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        truth += [set(map(int, row)) for row in top]
    return truth


def percentiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 2),
        "p95_ms": round(float(np.percentile(samples, 95)), 2),
    }


def question_latency(
    index: Any,
    queries: np.ndarray,
    questions: list[str],
    parts: dict[str, list[float]] | None = None,
) -> list[float]:
    """What the service does per question after embedding: both searches plus the top quotes."""
    samples = []
    parts = parts if parts is not None else {}
    for vector, question in zip(queries, questions, strict=True):
        tokens = keyword_tokens(question)
        t0 = time.perf_counter()
        dense = index.dense(vector, CANDIDATES)
        t1 = time.perf_counter()
        keyword = index.keyword(tokens, CANDIDATES)
        t2 = time.perf_counter()
        for cid, _ in dense[:3] + keyword[:3]:
            index.chunk(cid)
        t3 = time.perf_counter()
        index.idf(tokens)
        t4 = time.perf_counter()
        for name, ms in zip(
            ("dense", "keyword", "chunks", "idf"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True
        ):
            parts.setdefault(name, []).append(ms * 1e3)
        samples.append((t4 - t0) * 1e3)
    return samples


def breakdown(parts: dict[str, list[float]]) -> dict[str, float]:
    return {f"{name}_p50_ms": round(float(np.percentile(v, 50)), 2) for name, v in parts.items()}


def reader_memory(kind: str, target: str, queries_file: Path, questions_file: Path) -> float:
    """Peak RSS (MB, VmHWM) of a fresh process that opens the index and does what answering every
    question does: both searches, the quoted chunks and their documents' records (citations),
    and the decline message's document count and first names.

    (ru_maxrss would be wrong here: Linux carries the parent's peak across fork + exec.)"""
    script = f"""
import itertools, json, resource, sys, numpy as np
sys.path.insert(0, {str(ROOT)!r})
from bot.shared.text import keyword_tokens
queries = np.load({str(queries_file)!r})
questions = json.loads(open({str(questions_file)!r}).read())
if {kind!r} == "postgres":
    from bot.stores.postgres.db import Database, PgOptions
    from bot.stores.postgres.store import PgStore
    index = PgStore(Database({target!r}, PgOptions())).open()
else:
    from bot.stores.files import FileStore
    from pathlib import Path
    index = FileStore(Path({target!r})).open()
documents = index.manifest.documents
for q, question in zip(queries, questions):
    found = index.dense(q, 50)[:3] + index.keyword(keyword_tokens(question), 50)[:3]
    for cid, _ in found:
        documents.get(index.chunk(cid).source)
    len(documents), list(itertools.islice(documents, 5)), index.manifest.chunk_count
status = open("/proc/self/status").read().splitlines()
print(next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def shared_buffers_mb(n: int) -> int:
    """Room for the vectors' HNSW graph (~2 KB a chunk with MiniLM) plus the hot postings blocks."""
    return max(256, min(8192, n * 4 // 1000))


def build_mb(n: int) -> int:
    """maintenance_work_mem for the HNSW build: the whole graph in memory (~1.8 KB a chunk)."""
    return max(512, min(8192, n * 2 // 1000 + 256))


def wait_for_quiet(limit: float | None, max_wait_s: float) -> dict[str, float]:
    """Wait until the 1-minute load average is at most `limit` (or `max_wait_s` has passed), so a
    long build made on a busy machine is still timed on a quiet one. Returns what was waited."""
    t0 = time.monotonic()
    while limit is not None and os.getloadavg()[0] > limit and time.monotonic() - t0 < max_wait_s:
        time.sleep(10)
    return {"waited_s": round(time.monotonic() - t0, 1), "load_1min": os.getloadavg()[0]}


def run(
    n: int,
    database_url: str | None,
    workdir: Path,
    hnsw: tuple[int, int] = (24, 128),
    quiet: tuple[float | None, float] = (None, 0.0),
) -> dict[str, Any]:
    from bot.embedding.model import SentenceTransformerEmbedder, resolve_model

    results: dict[str, Any] = {"chunks": n, "cores": os.cpu_count(), "hnsw_m_ef_construction": hnsw}
    base, questions = base_corpus()
    embedder = SentenceTransformerEmbedder(resolve_model("bundled:all-MiniLM-L6-v2"))
    base_vectors = embedder.encode([" ".join(c.text.split()) for c in base])
    queries = embedder.encode(questions)
    queries_file = workdir / "queries.npy"
    np.save(queries_file, queries, allow_pickle=False)
    questions_file = workdir / "questions.json"
    questions_file.write_text(json.dumps(questions))
    t0 = time.perf_counter()
    chunks, vectors = synthesise(base, base_vectors, n)
    results["synthesis_s"] = round(time.perf_counter() - t0, 1)
    manifest = manifest_for(chunks, vectors.shape[1])
    truth = exact_top10(vectors, queries)

    # files store: everything in memory, exact dense search, bm25s
    memory = MemoryIndex(manifest, chunks, vectors)
    t0 = time.perf_counter()
    memory.warm_up()
    results["files_bm25_build_s"] = round(time.perf_counter() - t0, 1)
    question_latency(memory, queries[:10], questions[:10])
    keyword_truth = [memory.keyword(keyword_tokens(q), 10) for q in questions]
    files_answers = [fused_top(memory, v, q) for v, q in zip(queries, questions, strict=True)]
    parts: dict[str, list[float]] = {}
    load_at_files = os.getloadavg()[0]
    results["files"] = {
        **percentiles(question_latency(memory, queries, questions, parts)),
        **breakdown(parts),
        "recall@10": 1.0,
    }
    from bot.stores.files import FileStore

    files_dir = workdir / "files-index"
    FileStore(files_dir).commit(manifest, set(), chunks, vectors)
    results["files"]["reader_rss_mb"] = reader_memory(
        "files", str(files_dir), queries_file, questions_file
    )
    del memory

    # postgres
    server = None
    if database_url is None:
        import pgserver

        server = pgserver.get_server(workdir / "pgdata", cleanup_mode="stop")
        # What a server for this size would be given (pgserver's defaults are for tests):
        # shared buffers that hold the HNSW graph, and both cores for index builds.
        server.psql(
            "ALTER SYSTEM SET max_parallel_maintenance_workers = 2; "
            f"ALTER SYSTEM SET shared_buffers = '{shared_buffers_mb(n)}MB';"
        )
        from tests.pg_fixture import PgServer  # its stop/start is a restart on the same socket

        restarted = PgServer(server, workdir / "pgdata")
        restarted.stop()
        restarted.start()
        database_url = server.get_uri()
    from bot.stores.postgres.db import Database, PgOptions
    from bot.stores.postgres.store import PgStore

    stages: dict[str, float] = {}
    store = PgStore(
        Database(
            database_url,
            PgOptions(
                retired_grace_seconds=0,
                build_memory_mb=build_mb(n),
                hnsw_m=hnsw[0],
                hnsw_ef_construction=hnsw[1],
            ),
        ),
        on_stage=lambda stage: stages.setdefault(stage, time.perf_counter()),
    )
    t0 = time.perf_counter()
    with store.writer_lock():
        store.commit(manifest, set(), chunks, vectors)
    end = time.perf_counter()
    results["pg_load_s"] = round(stages["rows written"] - t0, 1)
    results["pg_hnsw_build_s"] = round(stages["switching"] - stages["rows written"], 1)
    results["pg_commit_total_s"] = round(end - t0, 1)
    # What a change to one document costs the writer (`--watch`): the first document replaced by
    # the same text as new rows (its old blocks rewritten without it, the last range's blocks
    # with the new chunks), so every answer below is still the files store's to compare with.
    first_doc = [i for i, c in enumerate(chunks) if c.source == chunks[0].source]
    t0 = time.perf_counter()
    with store.writer_lock():
        store.commit(
            dataclasses.replace(manifest, generation=2),
            set(manifest.documents) - {chunks[0].source},
            [chunks[i] for i in first_doc],
            vectors[first_doc],
        )
    results["pg_update_one_document_s"] = round(time.perf_counter() - t0, 2)

    results["load_when_timing_files"] = load_at_files
    results["quiet_before_timing_postgres"] = wait_for_quiet(*quiet)
    sweep = {}
    for ef in EF_CANDIDATES:
        options = PgOptions(ef_search=ef)
        reader = PgStore(Database(database_url, options)).open()
        assert reader is not None
        for vector in queries[:20]:  # warm the connection and the index pages
            reader.dense(vector, 10)
        found, samples = 0, []
        for vector, expected in zip(queries, truth, strict=True):
            t = time.perf_counter()
            got = reader.dense(vector, 10)
            samples.append((time.perf_counter() - t) * 1e3)
            ids = [cid for cid, _ in got]
            found += len(expected & _rows_of(reader, ids))
        sweep[ef] = {"recall@10": round(found / (10 * len(queries)), 4), **percentiles(samples)}
    results["pg_dense_sweep"] = sweep
    chosen = next((ef for ef in EF_CANDIDATES if sweep[ef]["recall@10"] >= 0.98), EF_CANDIDATES[-1])
    results["pg_ef_search"] = chosen
    reader = PgStore(Database(database_url, PgOptions(ef_search=chosen))).open()
    question_latency(reader, queries[:10], questions[:10])
    parts = {}
    results["postgres"] = {
        **percentiles(question_latency(reader, queries, questions, parts)),
        **breakdown(parts),
        "recall@10": sweep[chosen]["recall@10"],
        **_keyword_summary(*keyword_recall(reader, keyword_truth, questions)),
        **answer_agreement(reader, files_answers, queries, questions),
        "reader_rss_mb": reader_memory("postgres", database_url, queries_file, questions_file),
    }
    # The same reader over a corpus a tenth the size (in a second database of the same server):
    # a reader's memory must not grow with the corpus.
    small_url = _second_database(database_url, "quotebot_bench_tenth")
    tenth = chunks[: n // 10]
    small = PgStore(Database(small_url, PgOptions(build_memory_mb=build_mb(n // 10))))
    small.commit(manifest_for(tenth, vectors.shape[1]), set(), tenth, vectors[: n // 10])
    small.close()
    results["postgres"]["reader_rss_mb_tenth_corpus"] = reader_memory(
        "postgres", small_url, queries_file, questions_file
    )
    if server is not None:
        server.cleanup()
    return results


def _second_database(url: str, name: str) -> str:
    """A fresh database beside `url`'s on the same server (its URL)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return make_conninfo(**{**conninfo_to_dict(url), "dbname": name})


def fused_top(index: Any, vector: np.ndarray, question: str, n: int = 3) -> list[int]:
    """The chunk ids of the n passages the service would rank first (dense + keyword, fused)."""
    from bot.answering.retrieval import fuse_weighted
    from bot.config import RetrievalSettings

    settings = RetrievalSettings()
    dense = index.dense(vector, settings.candidates)
    keyword = index.keyword(keyword_tokens(question), settings.candidates)
    return [hit.chunk_id for hit in fuse_weighted(dense, keyword, settings.dense_weight)[:n]]


def answer_agreement(
    index: Any, files_answers: list[list[int]], queries: np.ndarray, questions: list[str]
) -> dict[str, float]:
    """How often the database ranks the same passages first as the files store (whose ids are
    row numbers): the same best passage, and the share of the top 3 in common."""
    same_first = shared = 0
    for expected, vector, question in zip(files_answers, queries, questions, strict=True):
        got = [next(iter(_rows_of(index, [cid]))) for cid in fused_top(index, vector, question)]
        same_first += bool(got and expected and got[0] == expected[0])
        shared += len(set(got) & set(expected))
    return {
        "answer_same_first": round(same_first / len(questions), 3),
        "answer_top3_shared": round(shared / (3 * len(questions)), 3),
    }


def keyword_recall(
    index: Any,
    truth: list[list[tuple[int, float]]],
    questions: list[str],
) -> tuple[float, list[float]]:
    """Share of the files store's (bm25s) keyword top-10 that the database's top-10 matches, and
    the database's keyword latencies. A different chunk with the same exact score as bm25s' 10th
    counts as found: among tied chunks either store may return any (both score exactly)."""
    found = wanted = 0
    samples = []
    for expected, question in zip(truth, questions, strict=True):
        if not expected:
            continue
        t = time.perf_counter()
        got = index.keyword(keyword_tokens(question), 10)
        samples.append((time.perf_counter() - t) * 1e3)
        tenth = expected[-1][1]
        rows = _rows_of(index, [cid for cid, _ in got])
        above = {row for row, score in expected if not _same(score, tenth)}
        tied_got = sum(1 for _, score in got if _same(score, tenth))
        tied_expected = len(expected) - len(above)
        found += len(above & rows) + min(tied_got, tied_expected)
        wanted += len(expected)
    return round(found / max(wanted, 1), 4), samples


def _keyword_summary(recall: float, samples: list[float]) -> dict[str, float]:
    p = percentiles(samples)
    return {
        "keyword_recall@10": recall,
        "keyword_top10_p50_ms": p["p50_ms"],
        "keyword_top10_p95_ms": p["p95_ms"],
    }


def _same(score: float, other: float) -> bool:
    return abs(score - other) <= 1e-5 * max(other, 1.0)


_ROW_OF: dict[int, int] = {}


def _rows_of(index: Any, ids: list[int]) -> set[int]:
    """Map database chunk ids back to row numbers of the synthetic arrays (via their offsets)."""
    rows = set()
    for cid in ids:
        if cid not in _ROW_OF:
            chunk = index.chunk(cid)
            _ROW_OF[cid] = int(chunk.source[6:12]) * PER_DOCUMENT + chunk.start // 10_000
        rows.add(_ROW_OF[cid])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000,000 chunks")
    parser.add_argument("--chunks", type=int, help="override the corpus size")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    defaults = PostgresSettings()  # what a user's quotebot builds, unless told otherwise
    parser.add_argument("--hnsw-m", type=int, default=defaults.hnsw_m, help="HNSW graph degree")
    parser.add_argument("--hnsw-ef-construction", type=int, default=defaults.hnsw_ef_construction)
    parser.add_argument(
        "--quiet-load",
        type=float,
        help="before timing PostgreSQL, wait until the 1-minute load average is at most this",
    )
    parser.add_argument("--max-wait", type=float, default=7200, help="seconds, for --quiet-load")
    args = parser.parse_args()
    n = args.chunks or (1_000_000 if args.full else 100_000)
    url = os.environ.get("QUOTEBOT_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="quotebot-pg-bench-") as tmp:
        results = run(
            n,
            url,
            Path(tmp),
            (args.hnsw_m, args.hnsw_ef_construction),
            (args.quiet_load, args.max_wait),
        )
    results["bench_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
