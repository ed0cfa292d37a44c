import pytest

from bot.retrieval import Hit, boost_document_facts, fuse_rrf, fuse_weighted


def test_weighted_fusion_normalises_bm25_by_its_best_score() -> None:
    hits = fuse_weighted([(1, 0.8), (2, 0.2)], [(2, 10.0), (1, 5.0)], dense_weight=0.5)
    assert [h.chunk_id for h in hits] == [1, 2]
    assert hits[0].score == pytest.approx(0.5 * 0.8 + 0.5 * 0.5)
    assert hits[1].keyword == pytest.approx(1.0)


def test_a_candidate_missing_from_one_list_gets_that_lists_floor() -> None:
    hits = fuse_weighted([(1, 0.9), (2, 0.3)], [(3, 4.0), (1, 2.0)], dense_weight=0.5)
    by_id = {h.chunk_id: h for h in hits}
    assert by_id[3].dense == pytest.approx(0.3)  # lowest dense score seen
    assert by_id[2].keyword == pytest.approx(0.5)  # lowest normalised keyword score seen


def test_keyword_only_when_dense_weight_is_zero() -> None:
    hits = fuse_weighted([(1, 0.9)], [(2, 3.0), (1, 1.0)], dense_weight=0.0)
    assert hits[0].chunk_id == 2


def test_rrf_rewards_agreement() -> None:
    hits = fuse_rrf([(1, 0.9), (2, 0.5)], [(2, 3.0), (3, 1.0)])
    assert hits[0].chunk_id == 2


def test_questions_about_the_document_lift_bylines_and_dates() -> None:
    texts = {
        1: "Measures to service citizens.",
        2: "By People's Daily Online\nRelated",
        3: "16:47, August 10, 2010",
    }
    hits = [Hit(1, 0.35, 0.3, 1.0), Hit(2, 0.1, 0.1, 0.0), Hit(3, 0.1, 0.1, 0.0)]
    assert boost_document_facts("Who wrote the article?", hits, texts.__getitem__)[0].chunk_id == 2
    assert boost_document_facts("What date is on it?", hits, texts.__getitem__)[0].chunk_id == 3
    unchanged = boost_document_facts("What are the measures?", hits, texts.__getitem__)
    assert unchanged == hits
