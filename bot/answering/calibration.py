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

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(answers) for each row of x (features in the order of `names`)."""
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.means)) / np.asarray(self.scales)
        return _sigmoid(z @ np.asarray(self.coefficients) + self.intercept)

    def probability(self, features: Mapping[str, float]) -> float:
        """P(answers) from named signals (bot.answering.signals.features); extra names are unused."""
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


def _sigmoid(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    return result
