"""Would choosing among the top candidates by the judge's probability beat the fused rank?

Reads the candidates dumped by bench/answerability_data.py. For each mix on MIXES, the quote
shown first is the candidate with the highest `mix * probability + (1 - mix) * fused score`
among the top three (mix 0: today's fused rank), and the question is declined when that
candidate's probability is below the threshold. Leave-one-article-out as in
bench/answerability_fit.py (its fit, top and choose_threshold): each article is judged by the
model and threshold fitted without it, and the mix is chosen on the other articles (most
answered hits, then most unanswerable questions declined, ties to the smaller mix).

    .venv/bin/python bench/answerability_rerank.py [--data /tmp/decline/candidates.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.answerability_fit as fitting
from bot.answering.signals import FEATURES

MIXES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
KEEP = [FEATURES.index(name) for name in fitting.USED]
Counts = dict[
    str, list[int]
]  # set -> [questions, answered hits, answerable declined, unanswerable declined]


def fold_model(train: list[dict[str, Any]]) -> Any:
    model = fitting.fit(train, KEEP, list(fitting.USED), False)
    x, _ = fitting.top(train)
    answerable = np.array([bool(r["answers"]) for r in train])
    return replace(model, threshold=fitting.choose_threshold(fitting.predict(model, x), answerable))


def decide(model: Any, row: dict[str, Any], mix: float) -> tuple[bool, bool, float]:
    """(the chosen candidate answers, the question is declined, the chosen one's probability)."""
    candidates = row["candidates"]
    x = np.asarray([fitting.candidate_features(row, c) for c in candidates])
    p = fitting.predict(model, x)
    mixed = [mix * p[i] + (1 - mix) * c["fused"] for i, c in enumerate(candidates)]
    best = max(range(len(candidates)), key=lambda i: (mixed[i], -i))
    return bool(candidates[best]["hit"]), bool(p[best] < model.threshold), float(p[best])


def tally(model: Any, rows: list[dict[str, Any]], mix: float) -> Counts:
    out: Counts = {}
    for row in rows:
        hit, declined, _ = decide(model, row, mix)
        counts = out.setdefault(row["set"], [0, 0, 0, 0])
        counts[0] += 1
        if row["answers"]:
            counts[1] += hit and not declined
            counts[2] += declined
        else:
            counts[3] += declined
    return out


def add(total: Counts, part: Counts) -> None:
    for name, counts in part.items():
        into = total.setdefault(name, [0, 0, 0, 0])
        for i, value in enumerate(counts):
            into[i] += value


def objective(counts: Counts) -> tuple[int, int]:
    hits = sum(c[1] for name, c in counts.items() if name != "squad_impossible")
    return hits, sum(c[3] for c in counts.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/tmp/decline/candidates.json"))
    args = parser.parse_args()
    rows = [r for r in json.loads(args.data.read_text()) if r["candidates"]]
    dev = [r for r in rows if not r["own"] and not r["candidates"][0]["fact"]]
    articles = sorted({r["article"] for r in dev})
    models = {a: fold_model([r for r in dev if r["article"] != a]) for a in articles}
    final = fold_model(dev)
    print("columns per set: questions, answered hits, answerable declined, unanswerable declined")
    for mix in MIXES:
        held: Counts = {}
        for a in articles:
            add(held, tally(models[a], [r for r in dev if r["article"] == a], mix))
        print(f"mix {mix}: in-sample {tally(final, dev, mix)}\n         held-out  {held}")
    held = {}
    for a in articles:
        train = [r for r in dev if r["article"] != a]
        mix = max(MIXES, key=lambda m: (objective(tally(models[a], train, m)), -m))
        print(f"fold without {a}: mix {mix}")
        add(held, tally(models[a], [r for r in dev if r["article"] == a], mix))
    print(f"held-out, mix chosen per fold: {held}")
    for row in dev:
        if row["set"] == "seed_dev" and row["answers"]:
            x = np.asarray([fitting.candidate_features(row, c) for c in row["candidates"]])
            p = fitting.predict(final, x)
            hits = [c["hit"] for c in row["candidates"]]
            print(f"  p of top three {np.round(p, 3).tolist()} hits {hits}: {row['question']}")


if __name__ == "__main__":
    main()
