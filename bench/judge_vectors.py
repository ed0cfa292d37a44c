"""The answer judge's vectors embedded by the writer (issue 15): what filling the table costs, and
what it saves a first answer, before and after, paired in one run.

    python -m bench.judge_vectors fill --sizes 10000 100000
        the synthetic stores (bench/synth.py) and their judge tables, filled through the writer's
        own code (bot.index.judge_vectors.bring_up_to_date, the ONNX question encoder): seconds,
        entries, bytes on disk
    python -m bench.judge_vectors real KNOWLEDGE_DIR...
        the same on real documents: seconds per 1,000 chunks, bytes per chunk
    python -m bench.judge_vectors latency --before TREE --after TREE --sizes 10000 100000
        bench.scale's probe (1 thread) on each store, the two trees' processes alternating
    python -m bench.judge_vectors idle --before TREE --after TREE KNOWLEDGE_DIR
        `quotebot index` with nothing to do, the two trees alternating (each on its own index)
Results are printed as JSON lines (and summarised on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import CACHE, PYTHON, ROOT, child_env, summary


def _judge() -> Any:
    """The judge over the ONNX question encoder, as the service builds it for a writer."""
    from bench.common import real_embedder
    from bot.answering.judge import PassageJudge
    from bot.embedding.questions import RuntimeEmbedder

    embedder = RuntimeEmbedder(real_embedder(), CACHE / "onnx", threads=1)
    return PassageJudge(embedder, prepare=lambda: embedder.prepare_questions(writer=True))


def _table_bytes(folder: Path) -> int:
    from bot.stores.judge_sqlite import FILE

    return sum(p.stat().st_size for p in folder.glob(FILE + "*"))


def _filled(store_dir: Path, judge: Any) -> dict[str, Any]:
    from bot.index.judge_vectors import bring_up_to_date
    from bot.stores.files import FileStore

    store = FileStore(store_dir)
    index = store.open()
    assert index is not None
    started = time.perf_counter()
    report = bring_up_to_date(store, judge, index, None)
    seconds = time.perf_counter() - started
    chunks = index.manifest.chunk_count
    return {
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "texts": report.texts if report else None,
        "embedded": report.embedded if report else None,
        "table_bytes": _table_bytes(store_dir),
        "bytes_per_chunk": round(_table_bytes(store_dir) / max(chunks, 1)),
        "seconds_per_1000_chunks": round(1000 * seconds / max(chunks, 1), 2),
        "load_average": os.getloadavg(),
    }


def cmd_fill(sizes: list[int]) -> None:
    from bench import synth

    base = synth.load_base()
    judge = _judge()
    for size in sizes:
        folder = synth.ensure_store(base, size)
        row = {"what": "synthetic", "store": str(folder), **_filled(folder, judge)}
        print(json.dumps(row), flush=True)


def cmd_real(folders: list[Path]) -> None:
    """Index each folder with the FakeEmbedder-free real writer path minus the passages: the
    chunks as `quotebot index` cuts them, the table filled from empty."""
    from bot.index.judge_vectors import fill
    from bot.ingest.chunking import ChunkerSettings, chunk_text
    from bot.ingest.documents import hash_files, read_document
    from bot.stores.judge_sqlite import FILE, SqliteJudgeTable

    judge = _judge()
    judge.encode(["warm the encoder"])
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-judge-real"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    texts: list[str] = []
    for folder in folders:
        files, _ = hash_files(folder)
        for file in files:
            document = read_document(file)
            texts += [c.text for c in chunk_text(file.source, document.text, ChunkerSettings())]
    table = SqliteJudgeTable(work / FILE, judge.model_id, judge.dimension)
    started = time.perf_counter()
    report = fill(table, judge, texts)
    seconds = time.perf_counter() - started
    table.close()
    size = _table_bytes(work)
    print(
        json.dumps(
            {
                "what": "real",
                "folders": [str(f) for f in folders],
                "chunks": len(texts),
                "texts": report.texts,
                "seconds": round(seconds, 2),
                "seconds_per_1000_chunks": round(1000 * seconds / len(texts), 2),
                "table_bytes": size,
                "bytes_per_chunk": round(size / len(texts)),
                "load_average": os.getloadavg(),
            }
        )
    )


def cmd_latency(before: Path, after: Path, sizes: list[int], pairs: int, questions: int) -> None:
    from bench import synth

    base = synth.load_base()
    for size in sizes:
        folder = synth.ensure_store(base, size)
        for pair in range(pairs):
            order = [("before", before), ("after", after)]
            for label, tree in order if pair % 2 == 0 else order[::-1]:
                row = _probe(tree, folder, questions)
                row.update(tree=label, chunks=size, pair=pair)
                print(json.dumps(row), flush=True)
                print(
                    f"{size} {label}: first p50 {row['total']['p50']:.1f} ms, best "
                    f"{row['best_of_repeats']['total']['p50']:.1f} ms, the question's forward "
                    f"pass alone {row.get('encoder_alone', {}).get('p50', float('nan')):.1f} ms, "
                    f"load {row['load_average']}",
                    file=sys.stderr,
                    flush=True,
                )


def _probe(tree: Path, folder: Path, questions: int) -> dict[str, Any]:
    env = child_env()
    env["PYTHONPATH"] = str(tree)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env["QUOTEBOT_EMBEDDING__THREADS"] = "1"
    command = [PYTHON, "-m", "bench.scale", "--store", str(folder), "--runtime", "onnx"]
    command += ["--questions", str(questions), "--repeats", "2", "--floor", "5x5"]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"probe failed in {tree}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cmd_idle(before: Path, after: Path, knowledge: Path, runs: int) -> None:
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-judge-idle"
    times: dict[str, list[float]] = {"before": [], "after": []}
    trees = {"before": before, "after": after}
    for label, tree in trees.items():  # each tree's own up-to-date index
        _index(tree, knowledge, work / label)
    for run in range(runs):
        for label in ("before", "after") if run % 2 == 0 else ("after", "before"):
            started = time.perf_counter()
            _index(trees[label], knowledge, work / label)
            times[label].append((time.perf_counter() - started) * 1e3)
    row = {
        "what": "idle index",
        "knowledge": str(knowledge),
        **{label: summary(values) for label, values in times.items()},
        "load_average": os.getloadavg(),
    }
    print(json.dumps(row))


def _index(tree: Path, knowledge: Path, index_dir: Path) -> None:
    env = child_env()
    env["PYTHONPATH"] = str(tree)
    command = [PYTHON, "-m", "bot", "--knowledge", str(knowledge), "--index-dir", str(index_dir)]
    subprocess.run([*command, "index"], cwd=ROOT, env=env, capture_output=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("fill")
    fill.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    real = sub.add_parser("real")
    real.add_argument("folders", type=Path, nargs="+")
    latency = sub.add_parser("latency")
    latency.add_argument("--before", type=Path, required=True)
    latency.add_argument("--after", type=Path, required=True)
    latency.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    latency.add_argument("--pairs", type=int, default=2)
    latency.add_argument("--questions", type=int, default=60)
    idle = sub.add_parser("idle")
    idle.add_argument("--before", type=Path, required=True)
    idle.add_argument("--after", type=Path, required=True)
    idle.add_argument("knowledge", type=Path)
    idle.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if args.command == "fill":
        cmd_fill(args.sizes)
    elif args.command == "real":
        cmd_real(args.folders)
    elif args.command == "latency":
        cmd_latency(args.before, args.after, args.sizes, args.pairs, args.questions)
    else:
        cmd_idle(args.before, args.after, args.knowledge, args.runs)


if __name__ == "__main__":
    main()
