import pytest

from bot.answering.retrieval import (
    Hit,
    boost_document_facts,
    boost_enumeration,
    fuse_rrf,
    fuse_weighted,
)
from bot.ingest.chunking import Chunk


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


def _chunks(*texts: str) -> dict[int, Chunk]:
    return {i: Chunk("a.txt", i * 2000, i * 2000 + len(t), t, i + 1) for i, t in enumerate(texts)}


def test_questions_about_the_document_lift_bylines_and_dates() -> None:
    chunks = _chunks(
        "Measures to service citizens.",
        "By People's Daily Online\nRelated",
        "16:47, August 10, 2010",
    )
    hits = [Hit(0, 0.35, 0.3, 1.0), Hit(1, 0.1, 0.1, 0.0), Hit(2, 0.1, 0.1, 0.0)]
    lifted = boost_document_facts("Who wrote the article?", hits, chunks.__getitem__)
    assert lifted[0].chunk_id == 1 and lifted[0].fact
    assert boost_document_facts("What date is on it?", hits, chunks.__getitem__)[0].chunk_id == 2
    unchanged = boost_document_facts("What are the measures?", hits, chunks.__getitem__)
    assert unchanged == hits
    assert boost_document_facts("What year did it end?", hits, chunks.__getitem__) == hits


def test_a_headline_counts_only_at_the_start_of_a_document() -> None:
    title = "Grassroots organizations shift to service\nThe function of ..."
    early = {0: Chunk("a.txt", 0, len(title), title, 1)}
    late = {0: Chunk("a.txt", 5000, 5000 + len(title), title, 9)}
    hits = [Hit(0, 0.1, 0.1, 0.0)]
    assert boost_document_facts("What is the headline?", hits, early.__getitem__)[0].fact
    assert not boost_document_facts("What is the headline?", hits, late.__getitem__)[0].fact


def test_the_position_asked_about_lifts_the_passage_that_opens_with_it() -> None:
    chunks = _chunks(
        "Fourth, build centres. The second is to train staff.",
        "Second, improve the capabilities of personnel.",
        "Unrelated text here.",
    )
    hits = [Hit(2, 0.4, 0.4, 1.0), Hit(0, 0.3, 0.3, 0.5), Hit(1, 0.3, 0.3, 0.4)]
    ranked = boost_enumeration("And the second?", hits, chunks.__getitem__)
    assert [h.chunk_id for h in ranked] == [1, 0, 2]  # opens with it > has it further in
    assert ranked[0].fact and ranked[1].fact and not ranked[2].fact
    last = boost_enumeration("What is the last one?", hits, chunks.__getitem__)
    assert last[0].chunk_id == 0  # "Fourth" is the highest position present
    adverb = boost_enumeration("When was it first recorded?", hits, chunks.__getitem__)
    assert adverb == hits


def test_a_sentence_starting_with_by_far_is_not_a_byline() -> None:
    chunks = _chunks("By far the most famous work is the tapestry.", "By Reuters staff")
    hits = [Hit(0, 0.5, 0.5, 1.0), Hit(1, 0.1, 0.1, 0.0)]
    lifted = boost_document_facts("Who wrote the article?", hits, chunks.__getitem__)
    assert [h.fact for h in lifted] == [True, False] and lifted[0].chunk_id == 1


def test_proper_names_are_capitalised_words_after_the_first() -> None:
    from bot.answering.intents import proper_names

    assert proper_names("Who painted the Mona Lisa?") == ["Mona", "Lisa"]
    assert proper_names("What is the tallest mountain?") == []
    assert proper_names("Is Xi Jinping listed? Yes I think so") == ["Xi", "Jinping"]
