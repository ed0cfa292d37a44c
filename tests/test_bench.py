"""The benchmark harness's own invariants (bench/): exact offsets, consistent synthetic indexes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.baselines import paragraphs
from bench.followup_cv import Tally, best, grid
from bench.startup import heavy_modules
from bench.synth import Base, manifest_for, synthesize
from bot.answering.conversation import FollowUpSettings
from bot.index.generation import MemoryIndex
from bot.ingest.chunking import ChunkerSettings, chunk_text
from tests.conftest import SEED


def test_baseline_paragraphs_are_exact_slices(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Title\n\n  First para.\nstill first.\n \n\nSecond.\n")
    found = paragraphs(tmp_path)
    text = (tmp_path / "a.txt").read_text()
    assert [p.text for p in found] == ["Title", "First para.\nstill first.", "Second."]
    assert all(text[p.start : p.end] == p.text for p in found)
    assert [p.number for p in found] == [1, 2, 3]


def test_synthetic_index_is_consistent_and_keeps_the_real_chunks() -> None:
    chunks = chunk_text("knowledge/seed.txt", SEED.read_text(encoding="utf-8"), ChunkerSettings())
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((len(chunks), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    base = Base(chunks, vectors, "model")
    made, made_vectors = synthesize(base, 250, seed=3)
    assert len(made) == 250 and made_vectors.shape == (250, 16)
    assert [c.text for c in made[: len(chunks)]] == [c.text for c in chunks]
    assert np.allclose(np.linalg.norm(made_vectors, axis=1), 1.0, atol=1e-5)
    assert all(c.end - c.start == len(c.text) and 0 < len(c.text) <= 700 for c in made)
    index = MemoryIndex(manifest_for(made, "model", 16), made, made_vectors)
    assert index.manifest.chunk_count == 250
    assert synthesize(base, 250, seed=3)[0] == made  # deterministic


def test_heavy_modules_are_read_from_importtime_output() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   numpy.core\n"
        "import time:      9000 |     900000 | torch\n"
    )
    assert heavy_modules(stderr) == {"heavy": ["torch"], "other": ["numpy"]}


def test_follow_up_grid_covers_every_weight_triple_summing_to_one() -> None:
    triples = grid()
    assert len(triples) == 66 and FollowUpSettings() in triples
    assert all(
        abs(t.own_weight + t.context_weight + t.answer_weight - 1) < 1e-9
        and min(t.own_weight, t.context_weight, t.answer_weight) >= 0
        for t in triples
    )


def test_follow_up_choice_reads_only_the_training_folds() -> None:
    plain, mixed = FollowUpSettings(1.0, 0.0, 0.0), FollowUpSettings(0.5, 0.2, 0.3)
    # conversation 0 favours `mixed`, conversation 1 (held out) favours `plain`
    scored = {plain: [Tally(2, 0, 0), Tally(2, 2, 2)], mixed: [Tally(2, 2, 2), Tally(2, 0, 0)]}
    assert best(scored, [True, False]) == mixed
    assert best(scored, [False, True]) == plain
    # a tie goes to more weight on the follow-up's own words
    assert best(scored, [True, True]) == plain


def test_decline_threshold_lies_between_the_last_allowed_decline_and_the_first_kept() -> None:
    from bench import answerability_fit as fit

    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9] + [0.95] * 194)
    answerable = np.ones(len(p), dtype=bool)
    # 1.5 % of 200 answerable questions: three may be declined, the fourth (0.4) must not be,
    # even after its score is rounded for display.
    threshold = fit.choose_threshold(p, answerable)
    assert threshold == 0.35
    assert round(0.4, 4) >= threshold > 0.3


def test_squad_unanswerable_rows_count_their_chosen_weight_in_the_fit() -> None:
    from bench import answerability_fit as fit

    rows = [
        {"set": "squad_dev", "candidates": [{}, {}]},
        {"set": "squad_impossible", "candidates": [{}]},
    ]
    weights = fit.row_weights(rows, all_candidates=True)
    assert list(weights) == [1.0, 1.0, fit.IMPOSSIBLE_WEIGHT]


def test_document_questions_are_all_of_the_kind_and_span_three_articles() -> None:
    from bench.document_questions import questions
    from bot.answering.intents import asks_about_document

    rows = questions(with_dev=False)  # CI's clone has no ../shared/eval
    assert all(asks_about_document(r["question"]) for r in rows)
    assert {r["article"] for r in rows} == {"seed", "normans", "sky_united_kingdom"}
    assert {r["set"] for r in rows} == {"own"}
    assert all(r["answers"] for r in rows)


def test_the_lead_size_is_chosen_on_the_training_questions_only() -> None:
    from bench.document_questions import choose_size

    # Question 0 is best answered with a lead of 1, questions 1-2 with a lead of 2.
    outcome = {
        0: [(False, False, True)] * 3,
        1: [(True, True, False), (False, True, False), (False, False, False)],
        2: [(False, True, False), (True, True, False), (True, True, False)],
    }
    assert choose_size(outcome, [0]) == 1
    assert choose_size(outcome, [1, 2]) == 2
    assert choose_size(outcome, [0, 1, 2]) == 2
    tie = {0: [(False, False, True)], 1: [(True, True, False)], 2: [(True, True, False)]}
    assert choose_size(tie, [0]) == 1  # ties go to the smaller lead; 0 is never chosen
