"""Where the Discord bot's resident memory goes, step by step (issue 15: <= 200 MB after start).

Each run is a fresh interpreter doing what `quotebot discord` does before the gateway connects
(files store, the bundled article with a current index): its imports, `make_service`, the index
refreshed, the question encoder warmed, one question answered; then, with `--questions N`, N
evaluation questions more (how the memory grows with use). After every step it reads
/proc/self/smaps_rollup, because tracemalloc does not see native memory (onnxruntime, numpy):
RSS, and how much of it is anonymous (heap) or file-backed (mapped files: libraries, and the
model's weights once onnxruntime maps them; clean pages the kernel can drop and re-read).

    python -m bench.discord_memory [--runs 3] [--questions 200] [--index-dir DIR] [--out FILE]

The index directory (default: bench/results/cache/discord-index) is indexed first if needed, in
another process, so the measured process never loads torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import CACHE, PYTHON, ROOT, child_env

PROBE = """
import json, sys
steps = []
def mark(name):
    values = {}
    for line in open("/proc/self/smaps_rollup"):
        key, _, rest = line.partition(":")
        if key in ("Rss", "Anonymous"):
            values[key] = int(rest.split()[0]) / 1024
    steps.append({"step": name, "rss_mb": round(values["Rss"], 1),
                  "anonymous_mb": round(values["Anonymous"], 1),
                  "file_mb": round(values["Rss"] - values["Anonymous"], 1)})
mark("python")
import numpy
mark("import numpy")
from bot import cli
mark("import bot.cli")
args = cli.build_parser().parse_args(sys.argv[2:] + ["discord"])
service = cli.make_service(cli._settings(args))
mark("make_service (settings, store, bm25s, pydantic)")
import discord
mark("import discord")
import bot.discord.client
mark("import bot.discord.client")
service.refresh()
mark("index refreshed (setup_hook)")
import onnxruntime
mark("import onnxruntime")
service.question_vector("warm-up")
mark("question encoder warmed (setup_hook)")
service.ask("warm-up question")
mark("one question answered")
questions = json.loads(sys.argv[1])
for question in questions:
    service.ask(question)
if questions:
    mark(f"{len(questions)} questions more")
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sentence_transformers"})
print(json.dumps({"steps": steps, "heavy": heavy}))
"""


def measure(index_dir: Path, runs: int, questions: list[str]) -> dict[str, Any]:
    common = ["--knowledge", str(ROOT / "knowledge"), "--index-dir", str(index_dir)]
    env = child_env() | {"QUOTEBOT_EMBEDDING__THREADS": "1"}
    subprocess.run([PYTHON, "-m", "bot", *common, "index"], env=env, check=True, cwd=ROOT)
    rows = []
    for _ in range(runs):
        done = subprocess.run(
            [PYTHON, "-c", PROBE, json.dumps(questions), *common],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    steps = [
        {
            "step": step["step"],
            **{
                key: statistics.median(row["steps"][i][key] for row in rows)
                for key in ("rss_mb", "anonymous_mb", "file_mb")
            },
        }
        for i, step in enumerate(rows[0]["steps"])
    ]
    return {"runs": runs, "steps": steps, "heavy": rows[-1]["heavy"]}


def table(result: dict[str, Any]) -> str:
    lines = ["| step | RSS MB | added | anonymous | file-backed |", "|---|---|---|---|---|"]
    previous = 0.0
    for step in result["steps"]:
        added = step["rss_mb"] - previous
        previous = step["rss_mb"]
        lines.append(
            f"| {step['step']} | {step['rss_mb']:.1f} | {added:+.1f} | "
            f"{step['anonymous_mb']:.1f} | {step['file_mb']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--questions", type=int, default=0, help="evaluation questions more")
    parser.add_argument("--index-dir", type=Path, default=CACHE / "discord-index")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from bench.scale import eval_questions

    result = measure(args.index_dir, args.runs, eval_questions()[: args.questions])
    print(table(result), file=sys.stderr)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
