"""Ways to make one question's ONNX forward pass faster, measured side by side (issue 15).

From the bundled model's export (made here if missing, in bench/results/cache/onnx; since
recipe 2 it is traced with eager attention and fused, see bench/export_recipe.py) and the model
traced as it runs (SDPA attention, what exports were until recipe 2), variants are written to a
work folder and each opened in its own onnxruntime session (1 thread, sequential): the SDPA
trace (ORT_ENABLE_ALL applied at load, onnxruntime's default), only
ORT_ENABLE_BASIC, the ORT_ENABLE_ALL graph saved offline, onnxruntime's transformer optimizer
(model_type "bert") on the export as made and on an export traced with eager attention (the
default SDPA attention is traced into a pattern the optimizer does not fuse), the weights in a
separate mapped file, IO binding, and dynamic int8 quantisation.

All sessions live in one process and take turns question by question, so load changes on a
shared machine hit every variant alike; each forward pass is timed in CPU time of the calling
thread (onnxruntime runs on it with 1 thread), fastest of 3 per question. Every variant's
pooled vector is compared with the export's (cosine; the export's own probe check is 1e-4).

    python -m bench.encoder_variants [--work DIR] [--out FILE.json]
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

from bench.common import CACHE

BASE = "SDPA trace, recipe 1's graph (ORT_ENABLE_ALL at load)"


def make_variants(work: Path) -> tuple[Path, dict[str, tuple[Path, str, bool]]]:
    """The export folder and {label: (model file, optimisation level, IO binding)}."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    from bench.common import real_embedder
    from bot.embedding.onnx_encoder import MODEL_FILE, TOKENIZER_FILE, read_meta
    from bot.embedding.onnx_export import _export_transformer
    from bot.embedding.questions import RuntimeEmbedder

    model = real_embedder()
    runtime = RuntimeEmbedder(model, CACHE / "onnx", threads=1, on_notice=print)
    runtime.prepare_questions(writer=True)
    export = runtime.export_dir
    work.mkdir(parents=True, exist_ok=True)
    meta = read_meta(export)
    tokenizer = (export / TOKENIZER_FILE).read_bytes()
    single = work / "sdpa.onnx"  # traced as the model runs, weights inside the graph
    if not single.exists():
        _export_transformer(model.load(), meta, tokenizer, single)
    heads = model.load()[0].auto_model.config.num_attention_heads
    hidden = model.load()[0].auto_model.config.hidden_size
    if not (work / "ortall.onnx").exists():
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(work / "ortall.onnx")
        ort.InferenceSession(str(single), options, providers=["CPUExecutionProvider"])
    if not (work / "fused.onnx").exists():
        fused = optimizer.optimize_model(
            str(single), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
        fused.save_model_to_file(str(work / "fused.onnx"))
    if not (work / "eager_fused.onnx").exists():
        transformer = model.load()[0].auto_model
        before = transformer.config._attn_implementation
        transformer.set_attn_implementation("eager")
        _export_transformer(model.load(), meta, tokenizer, work / "eager.onnx")
        transformer.set_attn_implementation(before)
        fused = optimizer.optimize_model(
            str(work / "eager.onnx"),
            model_type="bert",
            num_heads=heads,
            hidden_size=hidden,
            opt_level=0,
        )
        print(fused.get_fused_operator_statistics(), file=sys.stderr)
        fused.save_model_to_file(str(work / "eager_fused.onnx"))
    if not (work / "int8.onnx").exists():
        quantize_dynamic(str(single), str(work / "int8.onnx"), weight_type=QuantType.QInt8)
    return export, {
        BASE: (single, "all", False),
        "ORT_ENABLE_BASIC only": (single, "basic", False),
        "optimised offline (ORT_ENABLE_ALL, saved)": (work / "ortall.onnx", "all", False),
        "transformer optimizer (SDPA export)": (work / "fused.onnx", "all", False),
        "eager attention, not fused (recipe 2's fallback)": (work / "eager.onnx", "all", False),
        "eager attention + transformer optimizer": (work / "eager_fused.onnx", "all", False),
        "the export as made (recipe 2: eager + fused, weights mapped)": (
            export / MODEL_FILE,
            "all",
            False,
        ),
        "IO binding": (single, "all", True),
        "int8 dynamic quantisation": (work / "int8.onnx", "all", False),
    }


def measure(export: Path, variants: dict[str, tuple[Path, str, bool]]) -> dict[str, Any]:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from bench.scale import eval_questions
    from bot.embedding.onnx_encoder import TOKENIZER_FILE, normalized, pool, read_meta

    meta = read_meta(export)
    tokenizer = Tokenizer.from_file(str(export / TOKENIZER_FILE))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=meta.max_seq_length)
    levels = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    }
    sessions = {}
    for label, (path, level, bind) in variants.items():
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = levels[level]
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        sessions[label] = (session, bind)

    def forward(session: Any, feed: dict[str, np.ndarray], bind: bool) -> np.ndarray:
        if not bind:
            return np.asarray(session.run(None, feed)[0])
        binding = session.io_binding()
        for name, value in feed.items():
            binding.bind_cpu_input(name, value)
        binding.bind_output(session.get_outputs()[0].name)
        session.run_with_iobinding(binding)
        return np.asarray(binding.copy_outputs_to_cpu()[0])

    times: dict[str, list[float]] = {label: [] for label in sessions}
    cosines: dict[str, list[float]] = {label: [] for label in sessions}
    questions = eval_questions()
    for question in questions:
        encoding = tokenizer.encode(question)
        columns = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        mask = columns["attention_mask"]
        vectors = {}
        for label, (session, bind) in sessions.items():
            feed = {node.name: columns[node.name] for node in session.get_inputs()}
            best = float("inf")
            for _ in range(3):
                start = time.thread_time()
                tokens = forward(session, feed, bind)
                best = min(best, time.thread_time() - start)
            times[label].append(best * 1e3)
            vectors[label] = normalized(pool(tokens.astype(np.float32), mask, meta))[0]
        for label in sessions:
            cosines[label].append(float(vectors[label] @ vectors[BASE]))
    base = float(np.percentile(times[BASE], 50))
    rows = {}
    for label in sessions:
        p50 = float(np.percentile(times[label], 50))
        rows[label] = {
            "cpu_p50_ms": round(p50, 2),
            "cpu_p95_ms": round(float(np.percentile(times[label], 95)), 2),
            "ratio": round(p50 / base, 3),
            "min_cosine": round(min(cosines[label]), 8),
        }
    return {"load_average": os.getloadavg(), "questions": len(questions), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=CACHE / "encoder-variants")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    export, variants = make_variants(args.work)
    result = measure(export, variants)
    for label, row in result["rows"].items():
        print(
            f"| {label} | {row['cpu_p50_ms']:.2f} / {row['cpu_p95_ms']:.2f} | "
            f"{row['ratio']:.2f} | {row['min_cosine']:.6f} |",
            file=sys.stderr,
        )
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
