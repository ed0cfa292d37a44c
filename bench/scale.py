"""Latency and memory at each knowledge size, one fresh subprocess per size.

The parent makes sure a FileStore generation exists for each size (see synth.py); the child
(`python -m bench.scale --store DIR`) loads the real model, loads that generation through the real
`FileStore.open()` path, builds the keyword index, then times `QuoteService.answer` for every
evaluation question over the warm service and reports its timings and resident memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, child_env, peak_rss_mb, question_sets, rss_mb, summary

SIZES_FULL: list[tuple[str, int | None]] = [
    ("1 document", None),
    ("1,000 chunks", 1_000),
    ("10,000 chunks", 10_000),
    ("100,000 chunks", 100_000),
]


def eval_questions() -> list[str]:
    from bot.evaluation import load_questions

    questions: list[str] = []
    for qset in question_sets():
        questions.extend(q.question for q in load_questions(qset.questions))
    return questions


def run_sizes(base: Any, *, questions: int, dtypes: list[str], repeat: int = 1) -> list[dict[str, Any]]:
    from bench import synth

    seed_chunks = sum(1 for c in base.chunks if c.source.startswith("knowledge/"))
    results = []
    for label, n in SIZES_FULL:
        size = n if n is not None else seed_chunks
        folder = synth.ensure_store(base, size)
        for dtype in dtypes if n == 100_000 else ["float32"]:
            for attempt in range(repeat):
                command = [
                    PYTHON, "-m", "bench.scale", "--store", str(folder),
                    "--questions", str(questions), "--dtype", dtype,
                ]
                done = subprocess.run(
                    command, cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False
                )
                if done.returncode != 0:
                    raise RuntimeError(f"probe failed for {label}: {done.stderr[-2000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row.update(label=label, chunks=size, attempt=attempt)
                results.append(row)
                print(f"  {label} {dtype}: p50 {row['total']['p50']:.1f} ms, "
                      f"index {row['index_mb']:.0f} MB, peak {row['peak_rss_mb']:.0f} MB",
                      file=sys.stderr, flush=True)
    return results


def probe(store_dir: Path, n_questions: int, dtype: str) -> dict[str, Any]:
    import numpy as np

    from bench.common import real_embedder, settings_for
    from bot.file_store import FileStore
    from bot.index import MemoryIndex
    from bot.service import QuoteService

    questions = eval_questions()
    questions = (questions * (1 + n_questions // max(len(questions), 1)))[:n_questions]
    embedder = real_embedder()
    embedder.encode(["load the model"])
    gc.collect()
    rss_model = rss_mb()
    t0 = time.perf_counter()
    index = FileStore(store_dir).open()
    assert index is not None
    if dtype != "float32":
        index = MemoryIndex(index.manifest, index.chunks, index.vectors.astype(dtype))
    t1 = time.perf_counter()
    gc.collect()
    rss_loaded = rss_mb()
    index.warm_up()
    t2 = time.perf_counter()
    gc.collect()
    rss_warm = rss_mb()
    service = QuoteService(
        settings_for(ROOT / "knowledge", store_dir), embedder=embedder, on_notice=lambda m: None
    )
    service._index = index  # serve this generation as refresh() would (no folder to match)
    for question in questions[:5]:
        service.answer(question)
    embed, search, compose, total = [], [], [], []
    declined = 0
    for question in questions:
        start = time.perf_counter()
        answer, timings = service.answer(question)
        total.append((time.perf_counter() - start) * 1e3)
        embed.append(timings.embed_ms)
        search.append(timings.search_ms)
        compose.append(timings.compose_ms)
        declined += answer.declined
    return {
        "dtype": dtype,
        "questions": len(questions),
        "declined": declined,
        "embed": summary(embed),
        "search": summary(search),
        "compose": summary(compose),
        "total": summary(total),
        "index_load_s": round(t1 - t0, 3),
        "keyword_index_build_s": round(t2 - t1, 3),
        "rss_after_model_mb": round(rss_model, 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "rss_warm_mb": round(rss_warm, 1),
        "rss_after_questions_mb": round(rss_mb(), 1),
        "index_mb": round(rss_mb() - rss_model, 1),
        "vectors_mb": round(index.vectors.nbytes / 2**20, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "numpy_threads": _blas_threads(np),
    }


def _blas_threads(np: Any) -> Any:
    try:
        from threadpoolctl import threadpool_info

        return [i.get("num_threads") for i in threadpool_info()]
    except ImportError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=224)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    print(json.dumps(probe(args.store, args.questions, args.dtype)))


if __name__ == "__main__":
    main()
