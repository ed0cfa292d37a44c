"""The logistic calibration: fitting, probabilities, the stored model."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from bot.answering.calibration import (
    MODEL_FILE,
    Calibration,
    bundled,
    choose_vetoes,
    fit_logistic,
    load,
)
from bot.answering.signals import FEATURES


def test_fit_recovers_a_known_logistic_relation() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 2))
    truth = 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2.0 * x[:, 1] + 0.5)))
    y = (rng.random(4000) < truth).astype(float)
    model = fit_logistic(x, y, ["a", "b"], l2=0.01)
    p = model.probabilities(x)
    # Calibrated: in every decile of predicted probability, the observed rate matches it.
    edges = np.quantile(p, np.linspace(0, 1, 11))
    for low, high in itertools.pairwise(edges):
        inside = (p >= low) & (p <= high)
        assert abs(p[inside].mean() - y[inside].mean()) < 0.06
    assert model.coefficients[0] > 0 > model.coefficients[1]


def test_the_l2_penalty_shrinks_coefficients() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])  # separable: unpenalised weights would run off
    loose, tight = fit_logistic(x, y, ["a"], l2=0.1), fit_logistic(x, y, ["a"], l2=10.0)
    assert abs(tight.coefficients[0]) < abs(loose.coefficients[0]) < 50


def test_probability_reads_features_by_name() -> None:
    model = Calibration(("b",), (2.0,), 0.0, (0.0,), (1.0,))
    assert model.probability({"a": 100.0, "b": 0.0}) == pytest.approx(0.5)
    assert model.probability({"a": -100.0, "b": 1.0}) == pytest.approx(1 / (1 + np.exp(-2)))


def test_a_constant_feature_does_not_divide_by_zero() -> None:
    model = fit_logistic(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([0.0, 1.0]), ["c", "x"])
    assert np.isfinite(model.probabilities(np.array([[1.0, 0.5]]))).all()


def test_a_veto_that_fires_gives_its_probability_whatever_the_features() -> None:
    model = Calibration(("b",), (2.0,), 5.0, (0.0,), (1.0,), vetoes=("v",), veto_probability=0.03)
    assert model.inputs == ("b", "v")
    assert model.probability({"b": 1.0, "v": 1.0}) == pytest.approx(0.03)
    assert model.probability({"b": 1.0, "v": 0.0}) > 0.99
    p = model.probabilities(np.array([[1.0], [1.0]]), vetoed=np.array([True, False]))
    assert p[0] == pytest.approx(0.03) and p[1] > 0.99


def test_choose_vetoes_keeps_what_the_answerable_questions_do_not_refute() -> None:
    answerable = np.array([True] * 100 + [False] * 10)
    hits = answerable.copy()
    clean = np.r_[np.zeros(100), np.ones(8), np.zeros(2)]  # fires only on unanswerable ones
    noisy = np.r_[np.ones(5), np.zeros(95), np.ones(10)]  # fires on 5 % of the answerable
    unseen = np.zeros(110)  # never fires here: kept, as nothing refutes it
    kept, p = choose_vetoes(
        {"clean": clean, "noisy": noisy, "unseen": unseen}, hits, answerable, 0.01
    )
    assert kept == ("clean", "unseen")
    assert p == pytest.approx((0 + 1) / (8 + 2))  # none of the 8 fired-on top quotes answers
    assert choose_vetoes({"noisy": noisy}, hits, answerable, 0.01) == ((), 0.0)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = Calibration(
        ("a", "b"), (1.0, -2.0), 0.3, (0.1, 0.2), (1.0, 2.0), 0.4, 0.8, None, ("v",), 0.02
    )
    path = tmp_path / "model.json"
    model.save(path)
    assert load(path) == model
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temp file left


def test_the_bundled_model_uses_known_signals_and_a_usable_threshold() -> None:
    model = bundled()
    assert MODEL_FILE.is_file()
    assert set(model.names) <= set(FEATURES)
    assert len(model.coefficients) == len(model.means) == len(model.scales) == len(model.names)
    assert 0.0 < model.threshold < 1.0 and 0.0 < model.fact_probability <= 1.0
    assert set(model.vetoes) <= set(FEATURES)
    assert 0.0 <= model.veto_probability < model.threshold  # a veto declines


def test_the_calibration_holds_only_for_the_model_it_was_fitted_with() -> None:
    from bot.answering.judge import PassageJudge
    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import resolve_model
    from tests.fakes import FakeEmbedder

    assert bundled().model_id == resolve_model(BUNDLED_MODEL).model_id
    assert not PassageJudge(FakeEmbedder()).applies  # another model: scores are not judged
    anyone = Calibration(("coverage",), (1.0,), 0.0, (0.0,), (1.0,))
    assert PassageJudge(FakeEmbedder(), anyone).applies


def test_sample_weights_count_rows_fractionally() -> None:
    # Ten copies of a row at weight 0.1 fit like one row at weight 1.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + rng.normal(size=200) > 0).astype(float)
    extra_x, extra_y = np.array([[3.0, 3.0]]), np.array([0.0])
    once = fit_logistic(np.vstack([x, extra_x]), np.r_[y, extra_y], ["a", "b"])
    tenfold = fit_logistic(
        np.vstack([x, np.repeat(extra_x, 10, axis=0)]),
        np.r_[y, np.repeat(extra_y, 10)],
        ["a", "b"],
        sample_weight=np.r_[np.ones(200), np.full(10, 0.1)],
    )
    point = np.array([[0.5, -0.5]])
    assert tenfold.probabilities(point)[0] == pytest.approx(once.probabilities(point)[0], abs=0.02)
    # and a zero weight leaves a row out
    without = fit_logistic(x, y, ["a", "b"])
    zero = fit_logistic(
        np.vstack([x, extra_x]),
        np.r_[y, extra_y],
        ["a", "b"],
        sample_weight=np.r_[np.ones(200), 0.0],
    )
    assert zero.probabilities(point)[0] == pytest.approx(without.probabilities(point)[0], abs=0.02)
