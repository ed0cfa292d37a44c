"""Same answers from both question runtimes: `quotebot ask - --json` and `quotebot eval --json`
over every development set, once with `[embedding] runtime = "onnx"` and once with "torch".

    python -m bench.runtimes_check [--out FILE.json]

Each set gets its own index (built once, by the first run, which also makes the ONNX export);
both runtimes then answer from that same index in fresh processes, through the real command
line. Reported per set: questions, answers whose quotes (source, start, end, highlight) and order
are identical, the largest score difference, and both eval reports.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import EVAL, PYTHON, ROOT, child_env

SETS = (
    ("seed_dev", ROOT / "knowledge", EVAL / "seed_dev.jsonl"),
    ("unanswerable_dev (seed)", ROOT / "knowledge", EVAL / "unanswerable_dev.jsonl"),
    ("squad_dev", EVAL / "squad_dev" / "docs", EVAL / "squad_dev" / "questions.jsonl"),
    ("formats", EVAL / "formats" / "docs", EVAL / "formats" / "questions.jsonl"),
    ("conversations (seed)", ROOT / "knowledge", EVAL / "conversations" / "dev.jsonl"),
)


def _quotebot(args: list[str], runtime: str, stdin: str = "") -> str:
    env = child_env() | {"QUOTEBOT_EMBEDDING__RUNTIME": runtime}
    done = subprocess.run(
        [PYTHON, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"quotebot {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def _key(answer: dict[str, Any]) -> Any:
    return (
        answer.get("declined"),
        answer.get("context"),
        [(q["source"], q["start"], q["end"], q.get("highlight")) for q in answer.get("quotes", [])],
    )


def compare(name: str, knowledge: Path, questions: Path, index: Path) -> dict[str, Any]:
    lines = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    lines = [q for q in lines if q.get("docs") in (None, "seed") or "squad" in name]
    if "turns" in lines[0]:  # conversations: one per block, turns in order
        asked = "\n\n".join("\n".join(t["question"] for t in c["turns"]) for c in lines) + "\n"
        flags = ["--json", "--follow-ups"]
    else:
        asked = "\n".join(q["question"].replace("\n", " ") for q in lines) + "\n"
        flags = ["--json"]
    common = ["--knowledge", str(knowledge), "--index-dir", str(index)]
    _quotebot([*common, "index"], "onnx")  # the writer: index + export
    answers = {}
    reports = {}
    for runtime in ("onnx", "torch"):
        out = _quotebot([*common, "ask", "-", *flags], runtime, asked)
        answers[runtime] = [json.loads(line) for line in out.splitlines() if line.strip()]
        reports[runtime] = json.loads(
            _quotebot([*common, "eval", str(questions), "--json"], runtime)
        )
    same = sum(_key(a) == _key(b) for a, b in zip(answers["onnx"], answers["torch"], strict=True))
    gaps = [
        abs(qa["score"] - qb["score"])
        for a, b in zip(answers["onnx"], answers["torch"], strict=True)
        if _key(a) == _key(b)
        for qa, qb in zip(a["quotes"], b["quotes"], strict=True)
    ]
    return {
        "set": name,
        "questions": len(answers["onnx"]),
        "identical_answers": same,
        "max_score_difference": max(gaps, default=0.0),
        "eval_onnx": reports["onnx"],
        "eval_torch": reports["torch"],
        "different": [
            {"question": a["question"], "onnx": _key(a), "torch": _key(b)}
            for a, b in zip(answers["onnx"], answers["torch"], strict=True)
            if _key(a) != _key(b)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="quotebot-runtimes-") as tmp:
        for number, (name, knowledge, questions) in enumerate(SETS):
            if not questions.is_file():
                continue
            row = compare(name, knowledge, questions, Path(tmp) / f"index-{number}")
            results.append(row)
            print(
                f"{name}: {row['identical_answers']}/{row['questions']} identical, "
                f"max score difference {row['max_score_difference']:.2e}",
                file=sys.stderr,
                flush=True,
            )
    text = json.dumps(results, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
