"""Dense search by how the files store holds vectors in memory (`[index] memory_dtype`): ms a
question, index memory after open + warm_up, open time, and whether int8's and float16's top k
equal float32's exactly (ids and scores, bit for bit).

One subprocess per (store, dtype), alternating dtypes round by round so that a busy machine
hurts every layout alike; the question vectors are the dev sets' questions, embedded once and
cached in --cache. Reads the stores only.

    python -m bench.dense_dtypes --store bench/results/cache/store-v1-10000 \\
        --store bench/results/cache/store-v1-100000 --rounds 3 --out bench/results/dense.json
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

from bench.common import child_env, rss_mb, summary

DTYPES = ("float16", "int8", "float32")


def question_vectors(cache: Path) -> Path:
    """The dev sets' questions as the real model embeds them (made once)."""
    path = cache / "question-vectors.npy"
    if not path.exists():
        import numpy as np

        from bench.common import real_embedder
        from bench.scale import eval_questions

        vectors = real_embedder().encode(eval_questions())
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    return path


def child(store: Path, dtype: str, vectors: Path, k: int, repeats: int, hits: Path) -> None:
    import numpy as np

    from bot.stores.files import FileStore

    queries = np.load(vectors)
    gc.collect()
    rss_before = rss_mb()
    start = time.perf_counter()
    index = FileStore(store, memory_dtype=dtype).open()  # type: ignore[arg-type]
    opened = time.perf_counter()
    assert index is not None
    index.warm_up()
    warm = time.perf_counter()
    gc.collect()
    rss_warm = rss_mb()
    results = [index.dense(query, k) for query in queries]  # also warms caches
    times: list[float] = []
    for _ in range(repeats):
        for query in queries:
            begin = time.perf_counter()
            index.dense(query, k)
            times.append((time.perf_counter() - begin) * 1e3)
    hits.write_text(json.dumps(results))
    row = {
        "dtype": dtype,
        "chunks": len(index),
        "dense_ms": summary(times),
        "open_s": round(opened - start, 3),
        "warm_up_s": round(warm - opened, 3),
        "vectors_mb": round(index.vector_bytes / 2**20, 1),
        "rss_before_mb": round(rss_before, 1),
        "rss_warm_mb": round(rss_warm, 1),
        "index_mb": round(rss_warm - rss_before, 1),
    }
    print(json.dumps(row))


def run(stores: list[Path], rounds: int, k: int, repeats: int, cache: Path) -> dict[str, Any]:
    question_vectors(cache)  # made once, before the children read it
    table: dict[str, dict[str, list[dict[str, Any]]]] = {}
    same: dict[str, dict[str, str]] = {}
    for store in stores:
        rows: dict[str, list[dict[str, Any]]] = {dtype: [] for dtype in DTYPES}
        for round_ in range(rounds):
            order = DTYPES if round_ % 2 == 0 else tuple(reversed(DTYPES))
            for dtype in order:
                command = [sys.executable, "-m", "bench.dense_dtypes", "--child", dtype]
                command += ["--store", str(store), "--k", str(k), "--repeats", str(repeats)]
                command += ["--cache", str(cache)]
                done = subprocess.run(
                    command, env=child_env(), capture_output=True, text=True, check=True
                )
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows[dtype].append(row)
                print(store.name, json.dumps(row), file=sys.stderr, flush=True)
        table[store.name] = rows
        reference = json.loads((cache / f"hits-{store.name}-float32.json").read_text())
        same[store.name] = {}
        for dtype in ("float16", "int8"):
            got = json.loads((cache / f"hits-{store.name}-{dtype}.json").read_text())
            ids = sum(
                [i for i, _ in a] == [i for i, _ in b] for a, b in zip(got, reference, strict=True)
            )
            exact = sum(a == b for a, b in zip(got, reference, strict=True))
            same[store.name][dtype] = (
                f"{exact}/{len(reference)} questions with the same top {k} and scores bit for bit "
                f"as float32; {ids}/{len(reference)} with the same ids in order"
            )
    return {"k": k, "repeats": repeats, "rounds": rounds, "runs": table, "same_as_float32": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, action="append", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--k", type=int, default=50, help="[retrieval] candidates")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench-dense-dtypes"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=DTYPES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        store = args.store[0]
        hits = args.cache / f"hits-{store.name}-{args.child}.json"
        child(store, args.child, question_vectors(args.cache), args.k, args.repeats, hits)
        return
    result = run(args.store, args.rounds, args.k, args.repeats, args.cache)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
