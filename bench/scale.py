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
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, child_env, peak_rss_mb, question_sets, rss_mb, summary

STAGES = ("embed", "search", "compose", "total")
SIZES_FULL: list[tuple[str, int | None]] = [
    ("1 document", None),
    ("1,000 chunks", 1_000),
    ("10,000 chunks", 10_000),
    ("100,000 chunks", 100_000),
]


def eval_questions() -> list[str]:
    from bot.evaluation.questions import load_questions

    questions: list[str] = []
    for qset in question_sets():
        questions.extend(q.question for q in load_questions(qset.questions))
    return questions


# Variants: (dtype, threads). threads=None: as configured by default ([embedding] threads, which
# the CLI applies to torch and OpenMP/OpenBLAS/MKL before they load); 0: the libraries' own
# defaults (all cores), to show what thread contention costs.
Variant = tuple[str, int | None]


def configured_threads() -> int:
    from bot.config import EmbeddingSettings

    return EmbeddingSettings().threads


def run_sizes(
    base: Any,
    *,
    questions: int,
    variants: dict[int, list[Variant]],
    repeats: int = 3,
    floor: str = "10x10",
    runtime: str = "onnx",
    sizes: list[tuple[str, int | None]] | None = None,
) -> list[dict[str, Any]]:
    """`variants` maps a chunk count to extra variants measured at that size; `runtime` is the
    question runtime ([embedding] runtime)."""
    from bench import synth

    seed_chunks = sum(1 for c in base.chunks if c.source.startswith("knowledge/"))
    results = []
    for label, n in sizes or SIZES_FULL:
        size = n if n is not None else seed_chunks
        folder = synth.ensure_store(base, size)
        for dtype, threads in [(default_dtype(), None), *variants.get(size, [])]:
            command = [PYTHON, "-m", "bench.scale", "--store", str(folder)]
            command += ["--questions", str(questions), "--dtype", dtype]
            command += ["--repeats", str(repeats), "--floor", floor, "--runtime", runtime]
            env = child_env()
            effective = configured_threads() if threads is None else threads
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env.pop(name, None)
                if effective:
                    env[name] = str(effective)
            env["QUOTEBOT_EMBEDDING__THREADS"] = str(effective)
            done = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"probe failed for {label}: {done.stderr[-2000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row.update(label=label, chunks=size, threads="default" if threads is None else threads)
            row["runtime"] = runtime
            results.append(row)
            print(
                f"  {variant_label(row)}: p50 {row['total']['p50']:.1f} ms "
                f"(best of {repeats}: {row['best_of_repeats']['total']['p50']:.1f}; "
                f"floor {row['floor']['total']['p50']:.1f}), "
                f"index {row['index_mb']:.0f} MB, peak {row['peak_rss_mb']:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    return results


def default_dtype() -> str:
    """How a user's `quotebot` holds vectors in memory (`[index] memory_dtype`)."""
    from bot.config import IndexSettings

    return IndexSettings().memory_dtype


def variant_label(row: dict[str, Any]) -> str:
    extras = [row["dtype"]] if row["dtype"] != default_dtype() else []
    if row.get("threads", "default") != "default":
        extras.append("library threads" if row["threads"] == 0 else f"{row['threads']} thread")
    return row["label"] + (f" ({', '.join(extras)})" if extras else "")


def probe(
    store_dir: Path,
    n_questions: int,
    dtype: str,
    repeats: int,
    floor_questions: int = 10,
    floor_repeats: int = 10,
    runtime: str = "onnx",
) -> dict[str, Any]:
    import numpy as np

    from bench.common import real_embedder, settings_for
    from bot.cli import compose_service
    from bot.stores.files import FileStore

    questions = eval_questions()
    questions = (questions * (1 + n_questions // max(len(questions), 1)))[:n_questions]
    embedder: Any = real_embedder()
    if runtime == "onnx":  # questions through the ONNX export (made once, kept in the cache)
        from bench.common import CACHE
        from bot.embedding.questions import RuntimeEmbedder

        embedder = RuntimeEmbedder(
            embedder,
            CACHE / "onnx",
            threads=configured_threads_env(),
            on_notice=lambda message: print(message, file=sys.stderr),
        )
        embedder.prepare_questions(writer=True)
        assert embedder.runtime == "onnx"
    else:
        embedder.encode(["load the model"])
    gc.collect()
    rss_model = rss_mb()
    t0 = time.perf_counter()
    index = FileStore(store_dir, memory_dtype=dtype).open()  # type: ignore[arg-type]
    assert index is not None
    t1 = time.perf_counter()
    gc.collect()
    rss_loaded = rss_mb()
    index.warm_up()
    t2 = time.perf_counter()
    gc.collect()
    rss_warm = rss_mb()
    service = compose_service(
        settings_for(ROOT / "knowledge", store_dir), embedder=embedder, on_notice=lambda m: None
    )
    service._index = index  # serve this generation as refresh() would (no folder to match)
    for question in questions[:5]:
        service.answer(question)
    # Each question is answered `repeats` times in a row: the first answer is the single-shot
    # latency; the fastest of the repeats (per stage) estimates the cost without waiting for a
    # CPU that other processes hold (this machine is shared); CPU time covers all threads.
    first: dict[str, list[float]] = {k: [] for k in STAGES}
    best: dict[str, list[float]] = {k: [] for k in STAGES}
    cpu: list[float] = []
    # The machine's speed, in the same run: one forward pass of the question alone (the encoder
    # every answer needs at least once), timed right after the question's answers.
    alone: list[float] = []
    encode_alone = (
        embedder.encode_questions if runtime == "onnx" else lambda texts: embedder.encode(texts)
    )
    declined = 0
    for question in questions:
        runs = []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            answer, timings = service.answer(question)
            total = (time.perf_counter() - start) * 1e3
            cpu.append((time.process_time() - start_cpu) * 1e3)
            runs.append((timings.embed_ms, timings.search_ms, timings.compose_ms, total))
        declined += answer.declined
        start = time.perf_counter()
        encode_alone([question])
        alone.append((time.perf_counter() - start) * 1e3)
        for i, stage in enumerate(STAGES):
            first[stage].append(runs[0][i])
            best[stage].append(min(run[i] for run in runs))
    # The floor: a few questions answered many times; the fastest run of each stage is what the
    # work costs when the process is not waiting for a CPU (an estimate for an idle machine).
    floor: dict[str, list[float]] = {k: [] for k in STAGES}
    for question in questions[:floor_questions]:
        runs = []
        for _ in range(floor_repeats):
            start = time.perf_counter()
            _, timings = service.answer(question)
            total = (time.perf_counter() - start) * 1e3
            runs.append((timings.embed_ms, timings.search_ms, timings.compose_ms, total))
        for i, stage in enumerate(STAGES):
            floor[stage].append(min(run[i] for run in runs))
    return {
        "floor": {stage: summary(floor[stage]) for stage in STAGES},
        "floor_questions": floor_questions,
        "floor_repeats": floor_repeats,
        "dtype": dtype,
        "questions": len(questions),
        "repeats": repeats,
        "declined": declined,
        **{stage: summary(first[stage]) for stage in STAGES},
        "best_of_repeats": {stage: summary(best[stage]) for stage in STAGES},
        "cpu_ms": summary(cpu),
        "encoder_alone": summary(alone),
        "total_over_encoder_alone": round(
            summary(first["total"])["p50"] / max(summary(alone)["p50"], 1e-9), 2
        ),
        "load_average": os.getloadavg(),
        "index_load_s": round(t1 - t0, 3),
        "keyword_index_build_s": round(t2 - t1, 3),
        "rss_after_model_mb": round(rss_model, 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "rss_warm_mb": round(rss_warm, 1),
        "rss_after_questions_mb": round(rss_mb(), 1),
        "index_mb": round(rss_mb() - rss_model, 1),
        "vectors_mb": round(index.vector_bytes / 2**20, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "numpy_threads": _blas_threads(np),
        "torch_threads": _torch_threads(),
    }


def configured_threads_env() -> int:
    return int(os.environ.get("QUOTEBOT_EMBEDDING__THREADS", configured_threads()))


def _blas_threads(np: Any) -> Any:
    try:
        from threadpoolctl import threadpool_info

        return [i.get("num_threads") for i in threadpool_info()]
    except ImportError:
        return None


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=224)
    parser.add_argument(
        "--dtype", choices=("auto", "int8", "float16", "float32"), default=default_dtype()
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--floor", default="10x10", help="QUESTIONSxREPEATS for the floor")
    parser.add_argument("--runtime", choices=("onnx", "torch"), default="onnx")
    args = parser.parse_args()
    floor_questions, floor_repeats = map(int, args.floor.split("x"))
    result = probe(
        args.store,
        args.questions,
        args.dtype,
        args.repeats,
        floor_questions,
        floor_repeats,
        runtime=args.runtime,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
