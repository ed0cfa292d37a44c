"""The answer-type signal (type_missing) and its redefinitions for who/where, measured (issue 14).

`type_missing` says a who/where question's window must hold a capitalised name not in the
question. Many real answers are lower-case phrases ("in rural areas", "Party members and
cadres"), so the signal fires on right passages and the judge declines them. This script reads
the dump of bench/answerability_data.py and reports:

1. how often each definition fires on a RIGHT passage (every candidate that contains an
   answer, by the question's answer kind) and on the top passage of unanswerable questions;
2. each definition in the shipped model (the same eight signals, vetoes, SQuAD 2.0 weight 0,
   L2 3) in place of type_missing, and the split (old and new side by side), each refitted
   with bench/answerability_variants.py's leave-one-article-out procedure (held-out beside
   in-sample).

    .venv/bin/python bench/answer_type_variants.py --data /tmp/anstype/candidates.json
        [--json bench/results/answer_type_variants.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.answerability_fit as fitting
import bench.answerability_variants as variants
from bot.answering.signals import FEATURES, answer_type

# The earlier rule (names only), the shipped one (places count for where), and who-variants.
DEFINITIONS = ("type_missing_names", "type_missing", "type_missing_people", "type_missing_agent")
SHIPPED = variants.Variant(
    "shipped", fitting.USED, l2=fitting.L2, impossible_weight=0.0, vetoes=fitting.VETOES
)


def fire_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per answer kind: right passages (any candidate with an answer) and unanswerable top
    passages, and how many of each every definition fires on."""
    right: Counter[tuple[str, str]] = Counter()
    wrong: Counter[tuple[str, str]] = Counter()
    n_right: Counter[str] = Counter()
    n_wrong: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for row in rows:
        kind = answer_type(row["question"]) or "none"
        if row["answers"]:
            chosen = [c for c in row["candidates"] if c["hit"]]
            counter, totals = right, n_right
        else:
            chosen = row["candidates"][:1]
            counter, totals = wrong, n_wrong
        for candidate in chosen:
            values = dict(zip(FEATURES, fitting.candidate_features(row, candidate), strict=True))
            totals[kind] += 1
            for name in DEFINITIONS:
                if values[name] > 0.5:
                    counter[(name, kind)] += 1
                    if row["answers"] and name == "type_missing_names":
                        examples.setdefault(kind, []).append(row["question"])
    kinds = sorted(set(n_right) | set(n_wrong))
    return {
        "right": {k: {"n": n_right[k], **{d: right[(d, k)] for d in DEFINITIONS}} for k in kinds},
        "unanswerable_top": {
            k: {"n": n_wrong[k], **{d: wrong[(d, k)] for d in DEFINITIONS}} for k in kinds
        },
        "old_fires_on_right": examples,
    }


def model_variants() -> list[variants.Variant]:
    out = [SHIPPED]
    for name in ("type_missing_names", "type_missing_people", "type_missing_agent"):
        features = tuple(name if f == "type_missing" else f for f in fitting.USED)
        out.append(
            variants.Variant(
                f"{name} for type_missing", features, SHIPPED.l2, 0.0, vetoes=SHIPPED.vetoes
            )
        )
    for name in ("type_missing_names", "type_missing_people"):
        out.append(
            variants.Variant(
                f"split: type_missing + {name}",
                (*fitting.USED, name),
                SHIPPED.l2,
                0.0,
                vetoes=SHIPPED.vetoes,
            )
        )
    out.append(
        variants.Variant(
            "no type signal",
            tuple(f for f in fitting.USED if f != "type_missing"),
            SHIPPED.l2,
            0.0,
            vetoes=SHIPPED.vetoes,
        )
    )
    return out


def _report_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [r for r in json.loads(path.read_text()) if r["candidates"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/tmp/anstype/candidates.json"))
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("/tmp/anstype/report.json"),
        help="bench/answerability_data.py --report-sets: fires only, never fitted",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = [r for r in json.loads(args.data.read_text()) if r["candidates"]]
    fires = {
        "dev": fire_table([r for r in rows if not r["own"]]),
        "own": fire_table([r for r in rows if r["own"]]),
    }
    if args.report.is_file():
        report = [r for r in json.loads(args.report.read_text()) if r["candidates"]]
        fires["report"] = fire_table(report)
    for label, table in fires.items():
        for part in ("right", "unanswerable_top"):
            print(f"{label}: fires on {part} passages, by answer kind")
            print(
                f"  {'kind':7s} {'n':>4s} "
                + " ".join(f"{d[13:] or 'shipped':>12s}" for d in DEFINITIONS)
            )
            for kind, counts in table[part].items():
                cells = " ".join(f"{counts[d]:>12d}" for d in DEFINITIONS)
                print(f"  {kind:7s} {counts['n']:>4d} {cells}")
    for label, table in fires.items():
        for kind, questions in table["old_fires_on_right"].items():
            print(f"{label}: type_missing_names (the earlier rule) on a right passage ({kind}):")
            for q in questions:
                print(f"    {q}")

    dev, own, x, xo = variants.split(rows)
    header = variants.HEADER
    report = [r for r in fires and _report_rows(args.report) if not r["candidates"][0]["fact"]]
    xr = fitting.top(report)[0] if report else None
    results = []
    for variant in model_variants():
        result = variants.measure(dev, own, x, xo, variant)
        if report and xr is not None:
            # The report sets are judged by the variant's model fitted on all dev questions
            # (they are never fitted on, so every figure on them is held-out).
            keep = [FEATURES.index(f) for f in variant.features]
            final = variants._fit(dev, x, variant, keep)
            pr = final.probabilities(xr)
            result["report"] = variants.counts(report, pr, pr < final.threshold)
            result["report_changes"] = [
                {"set": r["set"], "question": r["question"], "p": round(float(p), 3)}
                for r, p in zip(report, pr, strict=True)
            ]
        results.append(result)
        print(
            f"{variant.name}  (fold thresholds {result['fold_thresholds']}, final "
            f"{result['threshold']}; vetoes {result['vetoes']} at {result['veto_probability']})"
        )
        print(f"  {'':10s} {header}")
        print(f"  {'held-out':10s} {variants.line(result, 'held_out')}")
        print(f"  {'in-sample':10s} {variants.line(result, 'in_sample')}  (own: final model)")
        for name, c in result.get("report", {}).items():
            print(
                f"  report {name}: answerable declined {c['answerable_declined']}/"
                f"{c['answerable']}, hit@1 {c['hit_at_1']}, hit@3 {c['hit_at_3']}, "
                f"unanswerable declined {c['unanswerable_declined']}/{c['unanswerable']}"
            )
    # Keep, per variant, only the report questions it scores differently from the shipped model.
    shipped = {c["question"]: c["p"] for c in results[0].get("report_changes", [])}
    for result in results:
        result["report_changes"] = [
            {**c, "shipped_p": shipped[c["question"]]}
            for c in result.get("report_changes", [])
            if abs(c["p"] - shipped[c["question"]]) > 0.01
        ]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"fires": fires, "variants": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
