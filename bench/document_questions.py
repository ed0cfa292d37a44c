"""Questions about what a document is about ("Which city's experience does the article describe?"),
answered by the document's lead (bot.answering.retrieval.boost_document_lead).

Runs every question of the kind: ours (bench/data/document_questions.jsonl, over the bundled
article and the two squad_dev articles) and the dev sets' (found by `asks_about_document` in
seed_dev and formats), for each lead size in LEAD_SIZES and without the intent, and chooses the
lead size by leave-one-article-out: for each article, the size best on the other two (hit@1, then
hit@3, ties to the smaller), reported on the held-out article beside the in-sample figure.

    .venv/bin/python bench/document_questions.py [--out bench/results/document_questions.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL, ROOT, real_embedder, settings_for

OWN = ROOT / "bench" / "data" / "document_questions.jsonl"
LEAD_SIZES = (0, 1, 2, 3)  # 0: the intent off (today's ranking)


def questions(*, with_dev: bool = True) -> list[dict[str, Any]]:
    """Our own questions, and (`with_dev`) the dev sets' questions of the kind, which need
    ../shared/eval (a clone on its own has only ours)."""
    from bot.answering.intents import asks_about_document

    rows = []
    for line in OWN.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            knowledge = "seed" if r["docs"] == "seed" else "squad_dev"
            article = "seed" if knowledge == "seed" else Path(r["doc"]).stem
            rows.append({**r, "set": "own", "knowledge": knowledge, "article": article})
    dev_sets = (
        ("seed_dev", EVAL / "seed_dev.jsonl", "seed"),
        ("formats", EVAL / "formats" / "questions.jsonl", "formats"),
    )
    for name, path, knowledge in dev_sets if with_dev else ():
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line) if line.strip() else None
            if r and r["answers"] and asks_about_document(r["question"]):
                doc = Path(r.get("doc", "seed")).stem
                article = "seed" if "jingzhou" in doc or doc == "seed" else doc
                rows.append({**r, "set": name, "knowledge": knowledge, "article": article})
    return rows


Outcome = dict[
    int, list[tuple[bool, bool, bool]]
]  # lead size -> per question (hit@1, hit@3, declined)


def choose_size(outcome: Outcome, keep: list[int]) -> int:
    """The lead size with the most hits at 1, then at 3, on the questions `keep` (a training
    fold); ties go to the smaller lead. 0 (the intent off) is only reported, never chosen."""

    def score(size: int) -> tuple[int, int, int]:
        res = [outcome[size][i] for i in keep]
        return (sum(h1 for h1, _, _ in res), sum(h3 for _, h3, _ in res), -size)

    return max((s for s in outcome if s), key=score)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--index-root", type=Path, default=Path("/tmp/document_questions"))
    args = parser.parse_args()

    import bot.answering.retrieval as retrieval
    from bot.cli import compose_service
    from bot.evaluation.questions import contains_answer

    embedder = real_embedder()
    folders = {
        "seed": ROOT / "knowledge",
        "squad_dev": EVAL / "squad_dev" / "docs",
        "formats": EVAL / "formats" / "docs",
    }
    services = {}
    for name, folder in folders.items():
        service = compose_service(
            settings_for(folder, args.index_root / f"idx-{name}"), embedder=embedder
        )
        service.refresh()
        services[name] = service
    rows = questions()
    outcome: Outcome = {}
    original = retrieval.lead_starts.__defaults__
    for size in LEAD_SIZES:
        retrieval.lead_starts.__defaults__ = (size,)
        results = []
        for r in rows:
            answer = services[r["knowledge"]].ask(r["question"])
            found = [contains_answer(q.text, r["answers"]) for q in answer.quotes]
            results.append((bool(found[:1] and found[0]), any(found[:3]), answer.declined))
        outcome[size] = results
    retrieval.lead_starts.__defaults__ = original

    articles = sorted({r["article"] for r in rows})

    report: dict[str, Any] = {"questions": len(rows), "per_size": {}, "folds": {}}
    for size in LEAD_SIZES:
        res = outcome[size]
        report["per_size"][size] = {
            a: {
                "n": sum(r["article"] == a for r in rows),
                "hit@1": sum(res[i][0] for i, r in enumerate(rows) if r["article"] == a),
                "hit@3": sum(res[i][1] for i, r in enumerate(rows) if r["article"] == a),
                "declined": sum(res[i][2] for i, r in enumerate(rows) if r["article"] == a),
            }
            for a in articles
        }
    held = {"hit@1": 0, "hit@3": 0, "declined": 0}
    for a in articles:
        train = [i for i, r in enumerate(rows) if r["article"] != a]
        size = choose_size(outcome, train)
        report["folds"][a] = {"chosen": size, **report["per_size"][size][a]}
        for key in held:
            held[key] += report["per_size"][size][a][key]
    whole = choose_size(outcome, list(range(len(rows))))
    report["held_out"] = held
    report["chosen_on_all"] = whole
    report["in_sample"] = {k: sum(v[k] for v in report["per_size"][whole].values()) for k in held}
    for i, r in enumerate(rows):
        marks = " ".join(
            f"{s}:{'1' if outcome[s][i][0] else ('3' if outcome[s][i][1] else ('d' if outcome[s][i][2] else '-'))}"
            for s in LEAD_SIZES
        )
        print(f"{marks}  [{r['set']}/{r['article']}] {r['question']}")
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
