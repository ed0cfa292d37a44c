"""A logistic model from answerability signals to a probability that a quote answers (0-1).

Coefficients live in answerability_model.json beside this module, written by
bench/answerability_fit.py (which fits them with cross-validation and reports held-out
calibration in docs/answerability.md). Numpy only; the fit is Newton's method with an L2 penalty
on standardised features, small enough to read and to test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.shared.atomic_write import write_atomically

MODEL_FILE = Path(__file__).with_name("answerability_model.json")


@dataclass(frozen=True, slots=True)
class Calibration:
    names: tuple[str, ...]
    coefficients: tuple[float, ...]  # per standardised feature
    intercept: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    threshold: float = 0.5  # below this probability a question is declined
    # A passage chosen by a document-structure intent (byline, dateline, "the third measure")
    # is not scored by the features: this is the share of such top quotes that answered.
    fact_probability: float = 0.9
    # The embedding model the signals were measured with: cosines of another model are on
    # another scale, so the calibration does not hold for it (None: any model).
    model_id: str | None = None
    # Signals that decline on their own: when one fires (the question states a number, a
    # negation or a word whose opposite the passage says instead) the probability is
    # `veto_probability`, the share of such top quotes that answered (see `choose_vetoes`).
    # A logistic weight learns a signal only from the folds whose questions show it; a veto
    # carries over to a document whose kind of trick the fit never saw.
    vetoes: tuple[str, ...] = ()
    veto_probability: float = 0.0

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every signal the model reads: its features, then its vetoes."""
        return tuple(dict.fromkeys((*self.names, *self.vetoes)))

    def probabilities(self, x: np.ndarray, vetoed: np.ndarray | None = None) -> np.ndarray:
        """P(answers) for each row of x (features in the order of `names`); rows where
        `vetoed` is true get `veto_probability`."""
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.means)) / np.asarray(self.scales)
        p = _sigmoid(z @ np.asarray(self.coefficients) + self.intercept)
        if vetoed is not None:
            p = np.where(np.asarray(vetoed, dtype=bool), self.veto_probability, p)
        return p

    def probability(self, features: Mapping[str, float]) -> float:
        """P(answers) from named signals (bot.answering.signals.features, asked for `inputs`);
        extra names are unused."""
        if any(features[name] > 0.5 for name in self.vetoes):
            return self.veto_probability
        row = [features[name] for name in self.names]
        return float(self.probabilities(np.asarray([row]))[0])

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(self.names),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "means": list(self.means),
            "scales": list(self.scales),
            "threshold": self.threshold,
            "fact_probability": self.fact_probability,
            "model_id": self.model_id,
            "vetoes": list(self.vetoes),
            "veto_probability": self.veto_probability,
        }

    def save(self, path: Path) -> None:
        """Written through a temp file and os.replace, like every other file we write."""
        write_atomically(path, json.dumps(self.to_json(), indent=1) + "\n")


def load(path: Path = MODEL_FILE) -> Calibration:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(
        tuple(raw["features"]),
        tuple(float(c) for c in raw["coefficients"]),
        float(raw["intercept"]),
        tuple(float(m) for m in raw["means"]),
        tuple(float(s) for s in raw["scales"]),
        float(raw["threshold"]),
        float(raw["fact_probability"]),
        raw.get("model_id"),
        tuple(raw.get("vetoes", ())),
        float(raw.get("veto_probability", 0.0)),
    )


@lru_cache(maxsize=1)
def bundled() -> Calibration:
    """The model shipped with the package (read once)."""
    return load(MODEL_FILE)


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    *,
    l2: float = 1.0,
    iterations: int = 50,
    sample_weight: np.ndarray | None = None,
) -> Calibration:
    """Maximum-likelihood logistic regression with an L2 penalty (not on the intercept).
    `sample_weight` lets a set count less than one question per row (SQuAD 2.0's adversarial
    questions teach the mismatch signals without making every question look unanswerable)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - means) / scales])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = _sigmoid(z @ w)
        gradient = z.T @ (s * (p - y)) + penalty * w
        hessian = (z * (s * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Calibration(
        tuple(names),
        tuple(float(c) for c in w[1:]),
        float(w[0]),
        tuple(float(m) for m in means),
        tuple(float(s) for s in scales),
    )


def choose_vetoes(
    signals: Mapping[str, np.ndarray],
    hits: np.ndarray,
    answerable: np.ndarray,
    max_false_fire: float,
) -> tuple[tuple[str, ...], float]:
    """The candidate vetoes (`signals`: each one's value on every training top quote) that the
    training questions do not refute, and the probability they give. A candidate is refuted
    when it fires on more than `max_false_fire` of the answerable questions; the probability is
    the share of top quotes, among those where a kept veto fires, that answer, smoothed by one
    of each (so a veto no training question shows gives (0 + 1) / (n + 2) of those that do)."""
    hits = np.asarray(hits, dtype=bool)
    answerable = np.asarray(answerable, dtype=bool)
    allowed = max_false_fire * answerable.sum()
    kept = tuple(
        name
        for name, values in signals.items()
        if (np.asarray(values)[answerable] > 0.5).sum() <= allowed
    )
    if not kept:
        return (), 0.0
    fired = np.any([np.asarray(signals[name]) > 0.5 for name in kept], axis=0)
    return kept, float((hits[fired].sum() + 1) / (fired.sum() + 2))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    return result
