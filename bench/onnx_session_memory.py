"""Resident memory and speed of one onnxruntime session of the question encoder, per option.

Each variant runs in a fresh process: RSS and anonymous memory (from /proc/self/smaps_rollup)
added by opening the session and after the evaluation questions, and the forward pass's CPU
time (p50, fastest of 2 per question, 1 thread). Variants: the export's weights inside
model.onnx or in model.onnx.data (mapped), with the memory arena off, with prepacking off.

    python -m bench.onnx_session_memory [--export DIR] [--out FILE.json]

--export defaults to the bundled model's export in bench/results/cache/onnx (made if missing);
the single-file form is bench/results/cache/encoder-variants/single.onnx (bench.encoder_variants).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.common import CACHE, PYTHON, ROOT, child_env

PROBE = """
import json, sys, time
import numpy as np, onnxruntime as ort
from tokenizers import Tokenizer
from bench.scale import eval_questions
def memory():
    values = {}
    for line in open("/proc/self/smaps_rollup"):
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0]) / 1024 if rest.split() else 0
    return values["Rss"], values["Anonymous"]
model, tokenizer_file, options = sys.argv[1], sys.argv[2], sys.argv[3:]
rss0, anon0 = memory()
so = ort.SessionOptions()
so.log_severity_level = 3
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
if "no-arena" in options:
    so.enable_cpu_mem_arena = False
if "no-prepacking" in options:
    so.add_session_config_entry("session.disable_prepacking", "1")
session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
rss1, anon1 = memory()
tokenizer = Tokenizer.from_file(tokenizer_file)
tokenizer.no_padding()
times = []
for question in eval_questions():
    e = tokenizer.encode(question)
    columns = {"input_ids": [e.ids], "attention_mask": [e.attention_mask], "token_type_ids": [e.type_ids]}
    feed = {i.name: np.array(columns[i.name], dtype=np.int64) for i in session.get_inputs()}
    best = 1e9
    for _ in range(2):
        start = time.thread_time()
        session.run(None, feed)
        best = min(best, time.thread_time() - start)
    times.append(best * 1e3)
rss2, anon2 = memory()
print(json.dumps({"session_mb": round(rss1 - rss0, 1), "session_anonymous_mb": round(anon1 - anon0, 1),
                  "after_questions_mb": round(rss2 - rss0, 1), "after_questions_anonymous_mb": round(anon2 - anon0, 1),
                  "cpu_p50_ms": round(float(np.percentile(times, 50)), 2)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from bot.embedding.onnx_encoder import MODEL_FILE, TOKENIZER_FILE

    export = args.export
    if export is None:
        from bench.common import real_embedder
        from bot.embedding.questions import RuntimeEmbedder

        runtime = RuntimeEmbedder(real_embedder(), CACHE / "onnx", threads=1, on_notice=print)
        runtime.prepare_questions(writer=True)
        export = runtime.export_dir
    single = CACHE / "encoder-variants" / "single.onnx"
    variants = {
        "weights in model.onnx.data (mapped)": (export / MODEL_FILE, []),
        "... memory arena off": (export / MODEL_FILE, ["no-arena"]),
        "... prepacking off": (export / MODEL_FILE, ["no-prepacking"]),
    }
    if single.exists():
        variants["weights inside model.onnx"] = (single, [])
        variants["weights inside model.onnx, prepacking off"] = (single, ["no-prepacking"])
    results = {}
    for label, (model, options) in variants.items():
        command = [PYTHON, "-c", PROBE, str(model), str(export / TOKENIZER_FILE), *options]
        done = subprocess.run(
            command, env=child_env(), cwd=ROOT, capture_output=True, text=True, check=True
        )
        results[label] = json.loads(done.stdout.strip().splitlines()[-1])
        print(label, results[label], file=sys.stderr)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
