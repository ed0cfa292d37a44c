"""Variants of the answerability model, each measured held-out beside in-sample.

Reads the candidates dumped by bench/answerability_data.py and, for each variant (a feature set,
an L2 penalty, the weight of SQuAD 2.0's unanswerable questions in the fit), runs the
leave-one-article-out cross-validation of bench/answerability_fit.py (its `fit`, `top` and
`choose_threshold`: three folds, the bundled article, Normans and Sky, each document whole; the
threshold chosen inside each training fold) and the in-sample fit on all dev questions. Reports
per variant: declines of unanswerable_dev and of SQuAD 2.0's unanswerable questions, squad_dev
false declines and hit@1 / hit@3 (a declined question shows no quote, so it is a miss), seed_dev
declines and hit@1 (the 10 questions not answered by an intent), our own set (never fitted on;
scored by the variant's model on all dev data) and the ECE and log-loss of the top quote on the
ordinary dev questions (SQuAD 2.0's unanswerable ones excluded, as in the fit script).

    .venv/bin/python bench/answerability_variants.py [--data /tmp/decline/candidates.json]
        [--json bench/results/answerability_variants.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.answerability_fit as fitting
from bot.answering.calibration import Calibration, choose_vetoes, fit_logistic
from bot.answering.signals import FEATURES

BASE = fitting.USED
# Signals that compare what the question states with what the window states: a number, a
# negation, a word and its opposite. (name_missing and modifier_swapped, also tried as vetoes,
# fire on answerable questions that name their subject differently: ALL_VETOES' rows.)
VETOES = fitting.VETOES
ALL_VETOES = (*VETOES, "name_missing", "modifier_swapped")
VETO_FALSE_FIRE = fitting.VETO_FALSE_FIRE


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    features: tuple[str, ...] = BASE
    l2: float = 1.0  # the shipped model's, before the vetoes
    impossible_weight: float = 0.1  # the shipped model's, before the vetoes
    # How the decline threshold is chosen on the training questions: "quantile" (shipped: the
    # highest that declines at most TARGET_FALSE_DECLINE of their answerable ones, read off the
    # model's in-sample probabilities), "inner" (the same rule read off probabilities each
    # training article got from a model fitted without it: the spread a new document will see)
    # or a fixed probability ("0.5": decline when the calibrated score says "more likely not").
    threshold_rule: str = "quantile"
    # Mismatch signals that, unless the training questions refute them, decline on their own
    # (see _fit): a prior that "the question states what the passage contradicts" is not
    # answered, which a fold can keep even when its own unanswerable questions never show it.
    vetoes: tuple[str, ...] = ()


def variants() -> list[Variant]:
    """Each idea alone against the shipped model (the first row)."""
    rows = [Variant("shipped before")]
    for extra in ("name_rarity_missing", "modifier_swapped", "sentence_type_missing"):
        rows.append(Variant(f"+ {extra}", (*BASE, extra)))
    rows.append(
        Variant(
            "sentence_type_missing for type_missing",
            tuple("sentence_type_missing" if f == "type_missing" else f for f in BASE),
        )
    )
    rows.append(
        Variant(
            "name_rarity_missing for name_missing", _swap("name_missing", "name_rarity_missing")
        )
    )
    rows.append(Variant("+ missing_rare", (*BASE, "missing_rare")))
    rows.append(
        Variant(
            "- focus_match, unknown_share",
            tuple(f for f in BASE if f not in ("focus_match", "unknown_share")),
        )
    )
    for l2 in (0.1, 3.0, 10.0, 30.0):
        rows.append(Variant(f"L2 {l2:g}", l2=l2))
    for weight in (0.0, 0.05, 0.2, 0.3):
        rows.append(Variant(f"SQuAD 2.0 weight {weight:g}", impossible_weight=weight))
    rows.append(Variant("+ opposite_stated", (*BASE, "opposite_stated")))
    rows.append(Variant("all five vetoes, SQuAD 2.0 weight 0.1", vetoes=ALL_VETOES))
    for weight in (0.1, 0.05, 0.0):
        rows.append(
            Variant(f"vetoes, SQuAD 2.0 weight {weight:g}", impossible_weight=weight, vetoes=VETOES)
        )
    for l2 in (0.3, 3.0):
        rows.append(
            Variant(f"vetoes, weight 0, L2 {l2:g}", impossible_weight=0.0, l2=l2, vetoes=VETOES)
        )
    no_mismatch = tuple(f for f in BASE if f not in ("number_missing", "negation_missing"))
    rows.append(
        Variant(
            "vetoes, weight 0, model without number/negation",
            no_mismatch,
            impossible_weight=0.0,
            vetoes=VETOES,
        )
    )
    for rule in ("inner", "0.5", "0.4"):
        rows.append(Variant(f"threshold {rule}", threshold_rule=rule))
    return rows


def _swap(old: str, new: str) -> tuple[str, ...]:
    return tuple(new if f == old else f for f in BASE)


@dataclass(frozen=True, slots=True)
class Fitted:
    """A variant's model fitted on some questions: the logistic model, the veto signals kept and
    the probability given when one fires."""

    model: Calibration
    keep: list[int]
    vetoes: tuple[int, ...] = ()
    veto_probability: float = 0.0
    threshold: float = 0.5

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(answers) for rows of every FEATURE."""
        p = self.model.probabilities(x[:, self.keep])
        if self.vetoes:
            p = np.where((x[:, list(self.vetoes)] > 0.5).any(axis=1), self.veto_probability, p)
        return p


def _fit(rows: list[dict[str, Any]], x: np.ndarray, variant: Variant, keep: list[int]) -> Fitted:
    """The variant's model on `rows` (x: their top candidates' FEATURES) and its threshold."""
    weights = np.array(
        [variant.impossible_weight if r["set"] == "squad_impossible" else 1.0 for r in rows]
    )
    fitted = weights > 0
    hits = np.array([float(r["candidates"][0]["hit"]) for r in rows])
    model = fit_logistic(
        x[fitted][:, keep],
        hits[fitted],
        variant.features,
        l2=variant.l2,
        sample_weight=weights[fitted],
    )
    answerable = np.array([bool(r["answers"]) for r in rows])
    result = Fitted(model, keep)
    if variant.vetoes:
        # A veto is refuted by the training questions when it fires on more than
        # VETO_FALSE_FIRE of their answerable top quotes; those kept give every question they
        # fire on one probability: the smoothed share of such training top quotes that answer.
        kept, veto_p = choose_vetoes(
            {v: x[:, FEATURES.index(v)] for v in variant.vetoes},
            hits > 0.5,
            answerable,
            VETO_FALSE_FIRE,
        )
        result = replace(
            result, vetoes=tuple(FEATURES.index(v) for v in kept), veto_probability=veto_p
        )
    if variant.threshold_rule == "quantile":
        p = result.probabilities(x[fitted])
        return replace(result, threshold=fitting.choose_threshold(p, answerable[fitted]))
    if variant.threshold_rule == "inner":
        inner = np.zeros(len(rows))
        for article in {r["article"] for r in rows}:
            out = np.array([r["article"] == article for r in rows])
            sub = replace(variant, threshold_rule="0.5")
            inner[out] = _fit(
                [r for r, o in zip(rows, out, strict=True) if not o], x[~out], sub, keep
            ).probabilities(x[out])
        return replace(
            result, threshold=fitting.choose_threshold(inner[fitted], answerable[fitted])
        )
    return replace(result, threshold=float(variant.threshold_rule))


def counts(rows: list[dict[str, Any]], p: np.ndarray, declined: np.ndarray) -> dict[str, Any]:
    """Per set: questions, declines, hit@1 and hit@3 of the answerable ones."""
    out: dict[str, Any] = {}
    for name in sorted({r["set"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["set"] == name]
        yes = [i for i in idx if rows[i]["answers"]]
        no = [i for i in idx if not rows[i]["answers"]]
        hit1 = sum(not declined[i] and rows[i]["candidates"][0]["hit"] for i in yes)
        hit3 = sum(
            not declined[i] and any(c["hit"] for c in rows[i]["candidates"][:3]) for i in yes
        )
        out[name] = {
            "answerable": len(yes),
            "answerable_declined": int(sum(declined[i] for i in yes)),
            "hit_at_1": round(hit1 / len(yes), 4) if yes else None,
            "hit_at_3": round(hit3 / len(yes), 4) if yes else None,
            "unanswerable": len(no),
            "unanswerable_declined": int(sum(declined[i] for i in no)),
        }
    return out


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def measure(
    dev: list[dict[str, Any]],
    own: list[dict[str, Any]],
    x: np.ndarray,
    xo: np.ndarray,
    variant: Variant,
) -> dict[str, Any]:
    keep = [FEATURES.index(f) for f in variant.features]
    y = np.array([float(r["candidates"][0]["hit"]) for r in dev])
    ordinary = np.array([r["set"] != "squad_impossible" for r in dev])
    held_p = np.zeros(len(dev))
    held_declined = np.zeros(len(dev), dtype=bool)
    thresholds = {}
    for article in sorted({r["article"] for r in dev}):
        train = [i for i, r in enumerate(dev) if r["article"] != article]
        test = [i for i, r in enumerate(dev) if r["article"] == article]
        model = _fit([dev[i] for i in train], x[train], variant, keep)
        held_p[test] = model.probabilities(x[test])
        held_declined[test] = held_p[test] < model.threshold
        thresholds[article] = round(model.threshold, 3)
    final = _fit(dev, x, variant, keep)
    p_in = final.probabilities(x)
    po = final.probabilities(xo)
    yo = np.array([float(r["candidates"][0]["hit"]) for r in own])
    out: dict[str, Any] = {"variant": variant.name, "features": list(variant.features)}
    out["l2"], out["impossible_weight"] = variant.l2, variant.impossible_weight
    out["fold_thresholds"], out["threshold"] = thresholds, round(final.threshold, 3)
    out["vetoes"] = [FEATURES[i] for i in final.vetoes]
    out["veto_probability"] = round(final.veto_probability, 3)
    for label, p, declined in (
        ("held_out", held_p, held_declined),
        ("in_sample", p_in, p_in < final.threshold),
    ):
        _, ece = fitting.reliability(p[ordinary], y[ordinary])
        out[label] = {
            "sets": counts(dev, p, declined),
            "ece": round(ece, 3),
            "log_loss": round(log_loss(p[ordinary], y[ordinary]), 3),
            "auc": round(fitting.auc(p[ordinary], y[ordinary]), 3),
        }
    _, own_ece = fitting.reliability(po, yo)
    out["own"] = {"sets": counts(own, po, po < final.threshold), "ece": round(own_ece, 3)}
    return out


def line(result: dict[str, Any], label: str) -> str:
    s = result[label]["sets"]
    own = result["own"]["sets"]["own"]
    sq, seed = s["squad_dev"], s["seed_dev"]
    return (
        f"{s['unanswerable_dev']['unanswerable_declined']:>3d}/20 "
        f"{s['squad_impossible']['unanswerable_declined']:>3d}/214 "
        f"{sq['answerable_declined']:>2d}/204 {sq['hit_at_1']:.3f} {sq['hit_at_3']:.3f} "
        f"{seed['answerable_declined']}/10 {seed['hit_at_1']:.2f} "
        f"{seed['unanswerable_declined']}/5 "
        f"{own['unanswerable_declined']:>2d}/32 {own['answerable_declined']}/{own['answerable']} "
        f"{result[label]['ece']:.3f} {result[label]['log_loss']:.3f}"
    )


HEADER = "unans_dev squad2 sq_decl hit@1 hit@3 seed_decl seed@1 offtopic own_un own_ans ECE logloss"


def split(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray, np.ndarray]:
    """(dev-set rows, our own questions' rows, the top candidates' features of each). Passages
    chosen by a document-structure intent get a fixed probability, as in the fit: left out."""
    dev = [r for r in rows if not r["own"] and not r["candidates"][0]["fact"]]
    own = [r for r in rows if r["own"] and not r["candidates"][0]["fact"]]
    return dev, own, fitting.top(dev)[0], fitting.top(own)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/tmp/decline/candidates.json"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = [r for r in json.loads(args.data.read_text()) if r["candidates"]]
    dev, own, x, xo = split(rows)
    header = HEADER
    results = []
    for variant in variants():
        result = measure(dev, own, x, xo, variant)
        results.append(result)
        print(
            f"{variant.name}  (fold thresholds {result['fold_thresholds']}, final "
            f"{result['threshold']}; vetoes {result['vetoes']} at {result['veto_probability']})"
        )
        print(f"  {'':10s} {header}")
        print(f"  {'held-out':10s} {line(result, 'held_out')}")
        print(f"  {'in-sample':10s} {line(result, 'in_sample')}  (own: final model)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
