"""Would OpenVINO's bf16 (AMX) make the question encoder fast enough? A probe, not a runtime.

Not a dependency of quotebot: run it from a separate virtualenv that has `openvino`,
`onnxruntime` and `numpy` (`python -m venv /tmp/ov && /tmp/ov/bin/pip install openvino
onnxruntime==1.32.0 numpy`), with the ONNX export of the bundled model as its argument:

    /tmp/ov/bin/python bench/openvino_probe.py bench/results/cache/onnx/model-*/model.onnx

It times one forward pass of a question-sized input (8, 16, 24 tokens) on one thread with
onnxruntime (what quotebot uses), OpenVINO in float32 and OpenVINO in bfloat16, the three taking
turns, and compares the mean-pooled vectors with onnxruntime's; then the import, compile time
and resident memory of OpenVINO with the model loaded.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np


def main(model: str) -> None:
    import onnxruntime as ort
    import openvino as ov

    core = ov.Core()
    common = {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY"}
    f32 = core.compile_model(model, "CPU", {**common, "INFERENCE_PRECISION_HINT": "f32"})
    bf16 = core.compile_model(model, "CPU", {**common, "INFERENCE_PRECISION_HINT": "bf16"})
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    rng = np.random.default_rng(0)
    for length in (8, 16, 24):
        ids = rng.integers(1000, 20000, (1, length))
        ids[0, 0], ids[0, -1] = 101, 102
        inputs = {
            "input_ids": ids.astype(np.int64),
            "attention_mask": np.ones((1, length), np.int64),
            "token_type_ids": np.zeros((1, length), np.int64),
        }
        feed = {name: inputs[name] for name in names}
        runs = {
            "onnxruntime": lambda feed=feed: session.run(None, feed)[0],
            "openvino f32": lambda feed=feed: f32(feed)[0],
            "openvino bf16": lambda feed=feed: bf16(feed)[0],
        }
        reference = _pooled(runs["onnxruntime"]())
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(150):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1e3)
        for name, run in runs.items():
            cosine = float(reference @ _pooled(run()))
            print(
                f"{length} tokens  {name:14} {statistics.median(times[name]):6.2f} ms p50  "
                f"cosine to onnxruntime {cosine:.6f}"
            )
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if "VmRSS" in line)
    print(f"resident memory with onnxruntime and both OpenVINO models loaded: {rss / 1024:.0f} MB")


def _pooled(tokens: np.ndarray) -> np.ndarray:
    vector = tokens.mean(axis=1)[0]
    return vector / np.linalg.norm(vector)


if __name__ == "__main__":
    main(sys.argv[1])
