"""What computing the answerability signals costs per candidate passage (no embedding).

Reads the candidates dumped by bench/answerability_data.py and times `features()` on each: all
signals (what the fit script computes) against only the bundled model's (what the judge asks
for), each in two rounds (the second with the memoised word folds and fuzzy matches warm).

    .venv/bin/python bench/judge_features_cost.py [--data /tmp/decline/candidates.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timings(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, float]:
    from bot.answering.signals import Evidence, features

    spent = []
    for row in rows:
        for c in row["candidates"]:
            evidence = Evidence(
                row["question"],
                c["text"],
                c["dense"],
                c["sentence_cosine"],
                c["topic_sentence_cosine"],
                c["keyword_top"],
                c["fact"],
                c["focus_match"],
            )
            start = time.perf_counter()
            features(evidence, row["weights"], row["unknown_idf"], names)
            spent.append((time.perf_counter() - start) * 1e3)
    spent.sort()
    return {
        "candidates": len(spent),
        "mean_ms": round(statistics.mean(spent), 3),
        "p50_ms": round(spent[len(spent) // 2], 3),
        "p95_ms": round(spent[int(len(spent) * 0.95)], 3),
    }


def main() -> None:
    from bot.answering.calibration import bundled
    from bot.answering.signals import FEATURES, _fold, close_enough

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/tmp/decline/candidates.json"))
    args = parser.parse_args()
    rows = [r for r in json.loads(args.data.read_text()) if r["candidates"]]
    report = {}
    for label, names in (("all signals", FEATURES), ("model's signals", bundled().names)):
        close_enough.cache_clear()
        _fold.cache_clear()
        for round_ in (1, 2):
            report[f"{label}, round {round_}"] = timings(rows, tuple(names))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
