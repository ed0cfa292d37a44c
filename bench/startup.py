"""Start-up: cold `quotebot ask` split into imports, index load and model load; the baselines of
importing and loading sentence-transformers alone; the REPL's time to its first prompt; and which
heavy modules `--help`, `index` with nothing to do, and an error import.

Every measurement is a fresh process (`python -m bot ...` with this worktree first on the path);
the operating system's file cache is warm (the files were just read), so "cold" means a new
interpreter, not a cold disk.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, child_env

HEAVY = ("torch", "sentence_transformers", "transformers", "discord", "scipy", "sklearn")
ALSO = ("numpy", "bm25s", "rich", "pydantic", "prompt_toolkit")
QUESTION = "How many grassroots party organizations are there in Jingzhou?"


def heavy_modules(importtime_stderr: str) -> dict[str, list[str]]:
    """Top-level packages seen in `python -X importtime` output, split into heavy and others."""
    seen: set[str] = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            seen.add(name.split(".")[0])
    return {
        "heavy": sorted(m for m in HEAVY if m in seen),
        "other": sorted(m for m in ALSO if m in seen),
    }


def _run(
    command: list[str], runtime: str = "onnx", **kwargs: Any
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One fresh process; `runtime` is the question runtime ([embedding] runtime)."""
    env = child_env() | {"QUOTEBOT_EMBEDDING__RUNTIME": runtime}
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, **kwargs
    )
    return time.perf_counter() - start, done


def _median_wall(command: list[str], repeat: int, runtime: str = "onnx") -> dict[str, Any]:
    walls = []
    for _ in range(repeat):
        wall, done = _run(command, runtime)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-1500:]}")
        walls.append(wall)
    return {"median_s": round(statistics.median(walls), 3), "runs_s": [round(w, 3) for w in walls]}


def measure(repeat: int) -> dict[str, Any]:
    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import resolve_model

    model_path = resolve_model(BUNDLED_MODEL).load_path
    tmp = Path(tempfile.mkdtemp(prefix="quotebot-bench-start-"))
    common = ["--knowledge", str(ROOT / "knowledge"), "--index-dir", str(tmp / "index")]
    # Build once (and make the ONNX export); every later run finds both current.
    _run([PYTHON, "-m", "bot", *common, "index"])
    result: dict[str, Any] = {
        "python_startup": _median_wall([PYTHON, "-c", "pass"], repeat),
        "import_sentence_transformers": _median_wall(
            [PYTHON, "-c", "import sentence_transformers"], repeat
        ),
        "load_sentence_transformers_model": _median_wall(
            [
                PYTHON,
                "-c",
                "from sentence_transformers import SentenceTransformer as S; "
                f"S({model_path!r}, device='cpu').encode(['warm up'])",
            ],
            repeat,
        ),
        "cold_ask": _median_wall([PYTHON, "-m", "bot", *common, "ask", QUESTION], repeat),
        "cold_ask_json": _median_wall(
            [PYTHON, "-m", "bot", *common, "ask", QUESTION, "--json"], repeat
        ),
        "cold_ask_torch_runtime": _median_wall(
            [PYTHON, "-m", "bot", *common, "ask", QUESTION], repeat, "torch"
        ),
    }
    for runtime in ("onnx", "torch"):
        phases = []
        for _ in range(repeat):
            _, done = _run([PYTHON, "-m", "bench.startup", "--phases", *common], runtime)
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-1500:])
            phases.append(json.loads(done.stdout.strip().splitlines()[-1]))
        key = "cold_ask_phases" if runtime == "onnx" else "cold_ask_phases_torch_runtime"
        result[key] = {k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0]}
    result["repl_first_prompt"] = _repl(common, repeat)
    result["repl_first_prompt_torch_runtime"] = _repl(common, repeat, "torch")
    result["discord_start"] = {
        runtime: _discord_start(common, repeat, runtime) for runtime in ("onnx", "torch")
    }
    checks = {
        "--help": [PYTHON, "-X", "importtime", "-m", "bot", "--help"],
        "index (nothing to do)": [PYTHON, "-X", "importtime", "-m", "bot", *common, "index"],
        "error (missing folder)": [
            PYTHON,
            "-X",
            "importtime",
            "-m",
            "bot",
            "--knowledge",
            str(tmp / "missing"),
            "--index-dir",
            str(tmp / "index2"),
            "ask",
            QUESTION,
        ],
        "error (empty question)": [PYTHON, "-X", "importtime", "-m", "bot", *common, "ask", " "],
        "ask (current index)": [PYTHON, "-X", "importtime", "-m", "bot", *common, "ask", QUESTION],
    }
    result["imports"] = {}
    for name, command in checks.items():
        wall, done = _run(command)
        result["imports"][name] = {
            "wall_s": round(wall, 3),
            "exit": done.returncode,
            **heavy_modules(done.stderr),
        }
    # Issue 15: <= 1.0 s and <= 0.25 x a bare `import sentence_transformers` in the same run.
    cold = result["cold_ask"]["median_s"]
    ratio = cold / result["import_sentence_transformers"]["median_s"]
    result["cold_ask_over_import_sentence_transformers"] = round(ratio, 3)
    result["target_cold_ask_s"] = 1.0
    result["cold_ask_meets_target"] = cold <= 1.0 and ratio <= 0.25
    return result


DISCORD_START = """
import json, sys
from bot import cli
args = cli.build_parser().parse_args(sys.argv[1:] + ["discord"])
service = cli.make_service(cli._settings(args))
import discord, bot.discord.client  # the bot's own imports
service.refresh()  # what setup_hook does before the gateway connects
service.question_vector("warm-up")
service.ask("warm-up question")
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sentence_transformers"})
print(json.dumps({"rss_mb": round(rss / 1024, 1), "heavy": heavy}))
"""


def _discord_start(common: list[str], repeat: int, runtime: str) -> dict[str, Any]:
    """Resident memory once `quotebot discord` would be serving (files store, bundled article):
    its imports, the index refreshed and the question encoder warmed as setup_hook does, one
    question answered; without a gateway (the bot's connection adds a few MB of buffers)."""
    rows = []
    for _ in range(repeat):
        _, done = _run([PYTHON, "-c", DISCORD_START, *common], runtime)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-1500:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "rss_mb_median": statistics.median(r["rss_mb"] for r in rows),
        "heavy": rows[-1]["heavy"],
    }


def _repl(common: list[str], repeat: int, runtime: str = "onnx") -> dict[str, Any]:
    """Time until the REPL prints its greeting (it then reads the first question)."""
    firsts, totals = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "-m", "bot", *common, "repl"],
            cwd=ROOT,
            env=child_env() | {"QUOTEBOT_EMBEDDING__RUNTIME": runtime},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(QUESTION + "\n")
        process.stdin.close()
        first = None
        for line in process.stdout:
            if first is None and "Ask a question" in line:
                first = time.perf_counter() - start
        process.wait()
        totals.append(time.perf_counter() - start)
        if first is None:
            raise RuntimeError("the REPL never printed its greeting")
        firsts.append(first)
    return {
        "first_prompt_median_s": round(statistics.median(firsts), 3),
        "first_prompt_runs_s": [round(x, 3) for x in firsts],
        "one_question_and_exit_median_s": round(statistics.median(totals), 3),
    }


def phases(argv: list[str]) -> dict[str, float]:
    """What `quotebot ask` does, step by step, timed in this fresh process."""
    t0 = time.perf_counter()
    from bot import cli
    from bot.config import load_settings  # noqa: F401
    from bot.service import QuoteService  # noqa: F401
    from bot.terminal.render import answer_to_terminal  # noqa: F401

    t1 = time.perf_counter()
    args = cli.build_parser().parse_args([*argv, "ask", QUESTION])
    service = cli.make_service(cli._settings(args))
    service.refresh()
    t2 = time.perf_counter()
    # The question encoder: the ONNX export, or (torch runtime) sentence-transformers + model.
    service.question_vector("load the question encoder")
    t3 = time.perf_counter()
    service.ask(QUESTION)
    t4 = time.perf_counter()
    service.ask(QUESTION + " again")
    t5 = time.perf_counter()
    return {
        "imports_s": t1 - t0,
        "index_load_s": t2 - t1,
        "model_load_s": t3 - t2,
        "first_answer_s": t4 - t3,
        "second_answer_s": t5 - t4,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--phases"]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        print(json.dumps(phases(sys.argv[2:])))
    else:
        print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1), indent=1))
