from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.answering.compose import (
    ComposeSettings,
    Quote,
    compose,
    coverage,
    highlight,
    memoised,
    overlaps,
)
from bot.answering.retrieval import Hit
from bot.ingest.chunking import Chunk

CHUNKS = {
    0: Chunk("a.txt", 0, 60, "The river floods in spring. Farmers plant rice after the flood.", 1),
    1: Chunk("a.txt", 40, 100, "rice after the flood. Markets open on Sundays in the town.", 2),
    2: Chunk("b.txt", 0, 30, "Mountains are tall and snowy.", 1),
}


def _idf(tokens: object) -> dict[str, float]:
    return {}


def _compose(question: str, hits: list[Hit], **settings: float) -> object:
    return compose(
        question,
        hits,
        CHUNKS.__getitem__,
        _idf,
        ComposeSettings(**settings),  # type: ignore[arg-type]
        decline_message="not here",
    )


def test_highlight_marks_the_sentence_sharing_most_terms() -> None:
    start, end = highlight(CHUNKS[0], ["farmer", "plant", "rice"], {})  # type: ignore[misc]
    assert CHUNKS[0].text[start:end] == "Farmers plant rice after the flood."


def test_no_shared_term_means_no_highlight() -> None:
    assert highlight(CHUNKS[2], ["river"], {}) is None


def test_overlapping_passages_are_dropped_and_best_comes_first() -> None:
    hits = [Hit(0, 0.9, 0.9, 1.0), Hit(1, 0.8, 0.8, 0.5), Hit(2, 0.7, 0.7, 0.1)]
    answer = _compose("When do farmers plant rice?", hits)
    assert [q.source for q in answer.quotes] == ["a.txt", "b.txt"]  # type: ignore[attr-defined]
    assert answer.quotes[0].text == CHUNKS[0].text  # type: ignore[attr-defined]


def test_weak_further_quotes_are_cut_relative_to_the_best() -> None:
    hits = [Hit(0, 0.9, 0.9, 1.0), Hit(2, 0.3, 0.3, 0.0)]
    assert len(_compose("rice", hits).quotes) == 1  # type: ignore[attr-defined]


def test_declines_when_far_in_meaning_and_vocabulary() -> None:
    hits = [Hit(2, 0.1, 0.1, 0.0)]
    answer = _compose("Who painted the Mona Lisa?", hits)
    assert answer.declined and answer.quotes == () and answer.message == "not here"  # type: ignore[attr-defined]


def test_shared_rare_terms_keep_a_low_cosine_answer() -> None:
    hits = [Hit(0, 0.1, 0.05, 1.0)]
    assert not _compose("river floods", hits).declined  # type: ignore[attr-defined]
    assert coverage(CHUNKS[0], ["river", "flood"], {}) == 1.0


def test_a_fact_hit_is_never_declined() -> None:
    hits = [Hit(2, 0.4, 0.0, 0.0, fact=True)]
    assert not _compose("Who wrote it?", hits).declined  # type: ignore[attr-defined]


def test_names_unknown_to_every_document_need_a_close_meaning() -> None:
    def ask(dense: float, *, fact: bool = False, foreign: bool = True) -> bool:
        hits = [Hit(2, dense, dense, 0.0, fact=fact)]
        answer = compose(
            "Who painted the Mona Lisa?",
            hits,
            CHUNKS.__getitem__,
            _idf,
            ComposeSettings(),
            decline_message="no",
            foreign_names=foreign,
        )
        return answer.declined

    assert ask(0.3)  # would pass the ordinary cosine threshold, but names nothing known
    assert not ask(0.3, foreign=False)
    assert not ask(0.45)
    assert not ask(0.1, fact=True)


def _judged(hits: list[Hit], probability: dict[int, float], below: float) -> object:
    return compose(
        "When do farmers plant rice?",
        hits,
        CHUNKS.__getitem__,
        _idf,
        ComposeSettings(),
        decline_message="not here",
        judge=lambda hit: probability[hit.chunk_id],
        decline_below=below,
        not_found_message=lambda q: "My documents don't say when farmers plant rice.",
    )


def test_a_judged_answer_scores_each_quote_by_its_probability() -> None:
    hits = [Hit(0, 0.9, 0.9, 1.0), Hit(2, 0.7, 0.7, 0.1)]
    answer = _judged(hits, {0: 0.83, 2: 0.12}, below=0.5)
    assert not answer.declined  # type: ignore[attr-defined]
    assert [q.score for q in answer.quotes] == [0.83, 0.12]  # type: ignore[attr-defined]
    assert answer.related == ()  # type: ignore[attr-defined]


def test_the_not_found_message_is_worded_only_for_a_decline() -> None:
    """Wording it loads lemminflect's word lists (~35 MB, 0.1 s): an answered question must not
    pay for that."""
    worded: list[str] = []

    def word(question: str) -> str:
        worded.append(question)
        return "not found"

    hits = [Hit(0, 0.9, 0.9, 1.0)]
    common = dict(decline_message="not here", judge=lambda hit: 0.8, not_found_message=word)
    answered = compose(
        "When do farmers plant rice?",
        hits,
        CHUNKS.__getitem__,
        _idf,
        ComposeSettings(),
        decline_below=0.5,
        **common,
    )
    assert not answered.declined and worded == []
    declined = compose(
        "When do farmers plant rice?",
        hits,
        CHUNKS.__getitem__,
        _idf,
        ComposeSettings(),
        decline_below=0.9,
        **common,
    )
    assert declined.message == "not found" and worded == ["When do farmers plant rice?"]


def test_an_unlikely_best_passage_is_declined_and_offered_as_related() -> None:
    hits = [Hit(0, 0.9, 0.9, 1.0), Hit(2, 0.7, 0.7, 0.1)]
    answer = _judged(hits, {0: 0.3, 2: 0.9}, below=0.5)
    assert answer.declined and answer.quotes == ()  # type: ignore[attr-defined]
    assert answer.message == "My documents don't say when farmers plant rice."  # type: ignore[attr-defined]
    assert [q.text for q in answer.related] == [CHUNKS[0].text, CHUNKS[2].text]  # type: ignore[attr-defined]
    assert [q.score for q in answer.related] == [0.3, 0.9]  # type: ignore[attr-defined]


def test_an_off_topic_question_is_declined_without_related_passages() -> None:
    hits = [Hit(2, 0.05, 0.05, 0.0)]  # far in meaning, no shared term
    answer = _judged(hits, {2: 0.99}, below=0.5)
    assert answer.declined and answer.related == ()  # type: ignore[attr-defined]
    assert answer.message == "not here"  # type: ignore[attr-defined]


def test_memoised_idf_looks_each_term_up_once() -> None:
    asked: list[list[str]] = []

    def idf(tokens: Sequence[str]) -> dict[str, float]:
        asked.append(list(tokens))
        return {token: float(len(token)) for token in tokens}

    lookup = memoised(idf)
    assert lookup(["mayor", "city", "mayor"]) == {"mayor": 5.0, "city": 4.0}
    assert lookup(["city", "river"]) == {"city": 4.0, "river": 5.0}
    assert lookup(["river"]) == {"river": 5.0}
    assert asked == [["mayor", "city"], ["river"]]


def test_compose_settings_come_from_the_retrieval_settings_by_name() -> None:
    """Each field from its own setting (distinct values, so a swapped pair would show)."""
    from bot.config import RetrievalSettings

    retrieval = RetrievalSettings(
        top_k=7,
        decline_below_cosine=0.11,
        decline_below_coverage=0.22,
        relative_cutoff=0.33,
        decline_unknown_names_below_cosine=0.44,
    )
    assert ComposeSettings.from_settings(retrieval) == ComposeSettings(
        top_k=7,
        decline_below_cosine=0.11,
        decline_below_coverage=0.22,
        relative_cutoff=0.33,
        foreign_names_cosine=0.44,
    )


def test_keep_all_declines_nothing_and_cuts_nothing() -> None:
    hits = [Hit(0, 0.9, 0.01, 0.0), Hit(2, 0.1, 0.01, 0.0)]  # far in meaning, no word shared
    answer = compose(
        "unrelated words",
        hits,
        CHUNKS.__getitem__,
        _idf,
        ComposeSettings.keep_all(5),
        decline_message="not here",
    )
    assert not answer.declined
    assert [q.source for q in answer.quotes] == ["a.txt", "b.txt"]  # below the relative cutoff too


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (("a.txt", 0, 10), ("a.txt", 5, 15), True),
        (("a.txt", 0, 10), ("a.txt", 10, 20), False),  # touching ends share no character
        (("a.txt", 0, 10), ("a.txt", 9, 10), True),
        (("a.txt", 3, 4), ("a.txt", 0, 10), True),  # one inside the other
        (("a.txt", 0, 10), ("b.txt", 0, 10), False),  # another document
    ],
)
def test_overlaps_table(a: tuple[str, int, int], b: tuple[str, int, int], expected: bool) -> None:
    assert overlaps(Chunk(*a, "", 1), _quote(*b)) is expected
    assert overlaps(_quote(*b), Chunk(*a, "", 1)) is expected


def _quote(source: str, start: int, end: int) -> Quote:
    return Quote(source, start, end, "", None, 0.0, 1)


# Passages and quotes are never empty: start < end.
_SPAN = st.tuples(st.sampled_from(["a.txt", "b.txt"]), st.integers(0, 30), st.integers(1, 10)).map(
    lambda t: (t[0], t[1], t[1] + t[2])
)


@given(_SPAN, _SPAN)
def test_overlaps_is_a_shared_character(a: tuple[str, int, int], b: tuple[str, int, int]) -> None:
    shared = a[0] == b[0] and bool(set(range(a[1], a[2])) & set(range(b[1], b[2])))
    assert overlaps(_quote(*a), _quote(*b)) is shared is overlaps(_quote(*b), _quote(*a))


# Summing idf weights over a set adds them in the set's order, which follows the string hashes,
# which change with every interpreter (PYTHONHASHSEED): two sentences holding the same terms could
# score 0.6 and 0.6000000000000001 and the highlight flip between runs. The weights below are
# such a case: (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3).
_TIE_PROBE = """
from bot.answering.compose import highlight
from bot.ingest.chunking import Chunk
text = "Alpha bravo charlie here. Charlie bravo alpha there."
chunk = Chunk(source="t.txt", start=0, end=len(text), text=text, paragraph=1)
weights = {"alpha": 0.1, "bravo": 0.2, "charli": 0.3}
print(highlight(chunk, ["charli", "alpha", "bravo"], weights))
"""


@pytest.mark.subprocess
def test_highlight_of_a_tie_is_the_same_whatever_the_hash_seed() -> None:
    import os
    import subprocess
    import sys

    seen = set()
    for seed in range(12):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        run = subprocess.run(
            [sys.executable, "-c", _TIE_PROBE], env=env, capture_output=True, text=True, check=True
        )
        seen.add(run.stdout.strip())
    assert seen == {"(0, 25)"}
