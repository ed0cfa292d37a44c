"""The question encoder's export recipes side by side, as quotebot opens them (issue 15).

Recipe 1 (the graph traced as the model runs: SDPA attention, not fused) is made by another
tree's code (`--before-tree`, e.g. a worktree of the commit before recipe 2), recipe 2 (eager
attention + onnxruntime's transformer optimizer) by this tree's, each by `make_export` in a fresh
process with the model already loaded (the export's own time, verification included).

Then, in one process, both exports opened with `OnnxEncoder.load` (checksums + a 1-thread
session, quotebot's options) and, for the fused graph, the session variants in question: the
optimisation level applied at load (ORT_ENABLE_ALL, onnxruntime's default and quotebot's, or
ORT_ENABLE_BASIC) or the graph saved after onnxruntime's ORT_ENABLE_EXTENDED optimisations and
loaded with them off. Timed, all taking turns:

* load: opening the session (and, for the real encoders, checking the export), `--loads` times;
* forward pass: CPU time of the calling thread (onnxruntime runs on it with 1 thread), fastest
  of 3, every evaluation question, and the whole `OnnxEncoder.encode([question])` the same way;
* agreement: each variant's pooled vector against recipe 1's (cosine).

    python -m bench.export_recipe --before-tree /tmp/base-tree [--loads 10] [--out FILE.json]
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

import numpy as np

from bench.common import CACHE, PYTHON, ROOT, child_env

MAKE = """
import json, sys, time
from pathlib import Path
from bot.config import BUNDLED_MODEL
from bot.embedding.model import SentenceTransformerEmbedder, resolve_model
from bot.embedding.onnx_export import make_export
spec = resolve_model(BUNDLED_MODEL)
model = SentenceTransformerEmbedder(spec, threads=1)
model.encode(["load the model"])
wall, cpu = time.perf_counter(), time.process_time()
make_export(model.load(), spec, Path(sys.argv[1]))
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}))
"""


def make(tree: Path, root: Path) -> dict[str, float]:
    """The export made by `tree`'s code under `root` in a fresh process; its time."""
    shutil.rmtree(root, ignore_errors=True)
    env = {**child_env(), "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [str(PYTHON), "-c", MAKE, str(root.resolve())],
        env=env,
        cwd=tree,  # `python -c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def offline(fused: Path, work: Path) -> Path:
    """The fused graph after onnxruntime's ORT_ENABLE_EXTENDED optimisations, saved (weights
    apart, as the export keeps them)."""
    import onnxruntime as ort

    work.mkdir(parents=True, exist_ok=True)
    path = work / "extended.onnx"
    for stale in (path, work / "extended.onnx.data"):  # made from this run's export
        stale.unlink(missing_ok=True)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(path)
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", "extended.onnx.data"
    )
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
    )
    ort.InferenceSession(str(fused), options, providers=["CPUExecutionProvider"])
    return path


def session(path: Path, level: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[level]
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
    }


def measure(before: Path, after: Path, model_id: str, loads: int) -> dict[str, Any]:
    from bench.scale import eval_questions
    from bot.embedding.onnx_encoder import (
        MODEL_FILE,
        OnnxEncoder,
        normalized,
        pool,
        read_meta,
    )

    work = CACHE / "export-recipe"
    extended = offline(after / MODEL_FILE, work)
    opened: dict[str, Any] = {
        "recipe 1 (quotebot's session)": lambda: OnnxEncoder.load(before, model_id, threads=1),
        "recipe 2 (quotebot's session)": lambda: OnnxEncoder.load(after, model_id, threads=1),
        "recipe 1, session only (ORT_ENABLE_ALL at load)": lambda: session(
            before / MODEL_FILE, "all"
        ),
        "recipe 2, session only (ORT_ENABLE_ALL at load)": lambda: session(
            after / MODEL_FILE, "all"
        ),
        "recipe 2, ORT_ENABLE_BASIC at load": lambda: session(after / MODEL_FILE, "basic"),
        "recipe 2 + ORT_ENABLE_EXTENDED saved, none at load": lambda: session(extended, "off"),
    }
    load_ms: dict[str, list[float]] = {label: [] for label in opened}
    load_cpu_ms: dict[str, list[float]] = {label: [] for label in opened}
    objects: dict[str, Any] = {}
    for _ in range(loads):
        for label, open_it in opened.items():
            wall, cpu = time.perf_counter(), time.process_time()
            objects[label] = open_it()
            load_ms[label].append((time.perf_counter() - wall) * 1e3)
            load_cpu_ms[label].append((time.process_time() - cpu) * 1e3)
    encoders = {label: obj for label, obj in objects.items() if isinstance(obj, OnnxEncoder)}
    sessions = {
        label: (obj._session if isinstance(obj, OnnxEncoder) else obj)
        for label, obj in objects.items()
    }
    meta = read_meta(after)
    tokenizer = encoders["recipe 2 (quotebot's session)"]._tokenizer
    forward: dict[str, list[float]] = {label: [] for label in sessions}
    encode: dict[str, list[float]] = {label: [] for label in encoders}
    cosines: dict[str, list[float]] = {label: [] for label in sessions}
    questions = eval_questions()
    for question in questions:
        tokenizer.no_padding()
        encoding = tokenizer.encode(question)
        columns = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        vectors = {}
        for label, run in sessions.items():
            feed = {node.name: columns[node.name] for node in run.get_inputs()}
            best = float("inf")
            for _ in range(3):
                start = time.thread_time()
                (tokens,) = run.run(None, feed)
                best = min(best, time.thread_time() - start)
            forward[label].append(best * 1e3)
            mask = columns["attention_mask"]
            vectors[label] = normalized(pool(np.asarray(tokens, np.float32), mask, meta))[0]
        for label, encoder in encoders.items():
            best = float("inf")
            for _ in range(3):
                start = time.thread_time()
                encoder.encode([question])
                best = min(best, time.thread_time() - start)
            encode[label].append(best * 1e3)
        for label in sessions:
            cosines[label].append(float(vectors[label] @ vectors["recipe 1 (quotebot's session)"]))
    base = float(np.percentile(forward["recipe 1 (quotebot's session)"], 50))
    rows = {}
    for label in sessions:
        p50 = float(np.percentile(forward[label], 50))
        rows[label] = {
            "load_wall_ms": _summary(load_ms[label]),
            "load_cpu_ms": _summary(load_cpu_ms[label]),
            "forward_cpu_ms": _summary(forward[label]),
            "forward_ratio": round(p50 / base, 3),
            "encode_cpu_ms": _summary(encode[label]) if label in encode else None,
            "min_cosine_to_recipe_1": round(min(cosines[label]), 8),
        }
    return {"questions": len(questions), "loads": loads, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree", type=Path, required=True)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import resolve_model
    from bot.embedding.onnx_encoder import export_folder, read_meta

    model_id = resolve_model(BUNDLED_MODEL).model_id
    roots = {
        "before": CACHE / "export-recipe" / "before",
        "after": CACHE / "export-recipe" / "after",
    }
    load_start = os.getloadavg()
    export_time = {
        "before": make(args.before_tree.resolve(), roots["before"]),
        "after": make(ROOT, roots["after"]),
    }
    before, after = (export_folder(roots[k], model_id) for k in ("before", "after"))
    result = {
        "load_average": {"start": load_start},
        "before_tree": str(args.before_tree),
        "export_s": export_time,
        "graphs": {"before": read_meta(before).graph, "after": read_meta(after).graph},
        **measure(before, after, model_id, args.loads),
    }
    result["load_average"]["end"] = os.getloadavg()
    for label, row in result["rows"].items():
        encode = "-" if row["encode_cpu_ms"] is None else f"{row['encode_cpu_ms']['p50']:.2f}"
        print(
            f"| {label} | {row['load_wall_ms']['p50']:.0f} / {row['load_cpu_ms']['p50']:.0f} | "
            f"{row['forward_cpu_ms']['p50']:.2f} / {row['forward_cpu_ms']['p95']:.2f} | "
            f"{row['forward_ratio']:.3f} | "
            f"{encode} | "
            f"{row['min_cosine_to_recipe_1']:.7f} |",
            file=sys.stderr,
        )
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
