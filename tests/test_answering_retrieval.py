import pytest

from bot.answering.retrieval import (
    Hit,
    boost_document_facts,
    boost_document_lead,
    boost_enumeration,
    fuse_rrf,
    fuse_weighted,
    lead_starts,
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


@pytest.mark.parametrize(
    ("question", "about_document"),
    [
        ("What is the article about?", True),
        ("Which city's experience does the article describe?", True),
        ("What does this report discuss?", True),
        ("What is the main topic of the document?", True),
        ("Whose history does the text cover?", True),
        ("What is the article mainly about?", True),
        # A topic after the verb: an ordinary question about that topic.
        ("What role change does the article describe for Party organizations?", False),
        ("What does the article say about the mayor?", False),
        ("What is the third measure?", False),
        ("Which city is the capital of Hubei?", False),
    ],
)
def test_questions_about_what_the_document_is_about(question: str, about_document: bool) -> None:
    from bot.answering.intents import asks_about_document

    assert asks_about_document(question) is about_document


def test_the_lead_is_the_first_passages_of_prose_not_a_menu_before_them() -> None:
    menu = Chunk("a.txt", 0, 40, "Top Leadership\n\nHu Jintao\n\nWu Bangguo", 1)
    title = Chunk(
        "a.txt",
        42,
        140,
        "Organizations shift to service\nThe function of the "
        "organizations in servicing citizens should be strengthened.",
        2,
    )
    opening = Chunk(
        "a.txt",
        142,
        240,
        "Over recent years, Jingzhou of Hubei Province has "
        "stepped up the function of its organizations.",
        3,
    )
    later = Chunk(
        "a.txt",
        242,
        340,
        "First, the organizations should alter the work concept and strengthen their awareness.",
        4,
    )
    assert lead_starts([later, opening, menu, title], 2) == {42, 142}
    assert lead_starts([later, opening, menu, title]) == {42, 142, 242}  # three by default
    assert lead_starts([later, opening, menu, title], 1) == {42}
    assert lead_starts([menu]) == frozenset()


def test_a_question_about_the_document_lifts_its_lead_and_only_then() -> None:
    texts = {
        0: Chunk("a.txt", 0, 60, "Jingzhou of Hubei Province has stepped up its service work.", 1),
        1: Chunk("a.txt", 900, 960, "Fifth, the organizations should expand public services.", 9),
        2: Chunk("b.txt", 0, 60, "The Normans were the people who gave their name to Normandy.", 1),
    }
    leads = {"a.txt": frozenset({0}), "b.txt": frozenset({0})}
    asked: list[str] = []

    def lead_of(source: str) -> frozenset[int]:
        asked.append(source)
        return leads[source]

    hits = [Hit(1, 0.4, 0.4, 1.0), Hit(2, 0.3, 0.3, 0.0), Hit(0, 0.2, 0.2, 0.0)]
    ranked = boost_document_lead(
        "Which city does the report describe?", hits, texts.__getitem__, lead_of
    )
    assert [h.chunk_id for h in ranked] == [2, 0, 1]  # both leads first, in their fused order
    assert ranked[0].fact and ranked[1].fact and not ranked[2].fact
    assert sorted(asked) == ["a.txt", "b.txt"]  # each document's lead read once
    asked.clear()
    same = boost_document_lead("What is the fifth measure?", hits, texts.__getitem__, lead_of)
    assert same == hits and asked == []  # other questions never read a lead


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
