"""The two question runtimes side by side, in one process and one run (issue 15):

* one question at a time (what answering does): p50 / p95 ms on the evaluation questions;
* batches of passages (what indexing does): ms per passage, batches of 64 real chunks;
* agreement: the cosine between the two runtimes' vectors for every evaluation question.

    python -m bench.encoders [--threads 1] [--out FILE.json]

The export is made once (kept in bench/results/cache/onnx); sentence-transformers and
onnxruntime run with the same number of threads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, percentile


def _times(call: Any, items: list[Any], repeats: int = 2) -> list[float]:
    """Per item: the fastest of `repeats` calls (ms), after one warm-up call."""
    call(items[0])
    result = []
    for item in items:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            call(item)
            best = min(best, time.perf_counter() - start)
        result.append(best * 1e3)
    return result


def measure(threads: int) -> dict[str, Any]:
    from bench.scale import eval_questions
    from bench.synth import load_base
    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import SentenceTransformerEmbedder, resolve_model
    from bot.embedding.questions import RuntimeEmbedder
    from bot.index.generation import embedding_input

    model = SentenceTransformerEmbedder(resolve_model(BUNDLED_MODEL), threads=threads)
    runtime = RuntimeEmbedder(model, CACHE / "onnx", threads=threads, on_notice=print)
    runtime.prepare_questions(writer=True)
    onnx = runtime._onnx
    assert onnx is not None, "no ONNX export"
    questions = eval_questions()
    single = {
        "onnx": _times(lambda q: onnx.encode([q]), questions),
        "torch": _times(lambda q: model.encode([q]), questions),
    }
    vectors_onnx = np.stack([onnx.encode([q])[0] for q in questions])
    vectors_torch = model.encode(questions)
    cosines = (vectors_onnx * vectors_torch).sum(axis=1)
    base = load_base(model)
    texts = [embedding_input(chunk) for chunk in base.chunks[:256]]
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    batch = {
        "onnx": _times(lambda b: onnx.encode(b), batches, repeats=1),
        "torch": _times(lambda b: model.encode(b), batches, repeats=1),
    }
    return {
        "threads": threads,
        "questions": len(questions),
        "load_average": os.getloadavg(),
        "question_ms": {
            name: {"p50": percentile(t, 50), "p95": percentile(t, 95)} for name, t in single.items()
        },
        "passage_ms_per_chunk_batches_of_64": {
            name: sum(t) / len(texts[: 64 * len(batches)]) for name, t in batch.items()
        },
        "cosine_onnx_vs_torch": {"min": float(cosines.min()), "mean": float(cosines.mean())},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = measure(args.threads)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    print(
        f"question p50 onnx {result['question_ms']['onnx']['p50']:.2f} ms vs torch "
        f"{result['question_ms']['torch']['p50']:.2f} ms",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
