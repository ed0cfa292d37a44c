"""Answering as one function over an in-memory generation: no service, no store, no disk."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answering.answer import AnswerSettings, Embed, answer, ranked_quotes
from bot.answering.compose import Answer
from bot.answering.conversation import Conversation
from bot.answering.decline import NO_ANSWER_TO_CONTINUE, NOTHING_MORE
from bot.answering.question import Question
from bot.config import RetrievalSettings
from bot.index.generation import DocumentRecord, IndexRecipe, Manifest, MemoryIndex
from bot.ingest.chunking import Chunk, ChunkerSettings
from tests.fakes import FakeEmbedder

DOCUMENTS = {
    "rice.txt": [
        "Farmers plant rice in spring after the river floods the valley.",
        "The rice harvest comes in autumn and is dried on the village square.",
        "Millers buy the dried rice and sell the flour in the town market.",
        "The town market opens on Sundays and closes at noon.",
    ],
    "mountains.txt": [
        "The northern mountains are tall and covered in snow all winter.",
        "Climbers start from the lodge at dawn to reach the summit by noon.",
    ],
}
DECLINE = "I could not find that in my documents. They cover: rice, mountains."


def _generation(embedder: FakeEmbedder, generation: int = 7) -> MemoryIndex:
    """One passage per paragraph, offsets into the text of each document."""
    chunks: list[Chunk] = []
    records: dict[str, DocumentRecord] = {}
    for source, paragraphs in DOCUMENTS.items():
        text = "\n\n".join(paragraphs)
        start = 0
        for number, paragraph in enumerate(paragraphs, start=1):
            chunks.append(Chunk(source, start, start + len(paragraph), paragraph, number))
            start += len(paragraph) + 2
        records[source] = DocumentRecord(source, "0" * 64, len(text), 4, len(text), "")
    vectors = embedder.encode([c.text for c in chunks])
    manifest = Manifest(
        IndexRecipe(embedder.spec.model_id, ChunkerSettings()),
        embedder.dimension,
        records,
        generation=generation,
    )
    return MemoryIndex(manifest, chunks, vectors)


def _embed(embedder: FakeEmbedder) -> Embed:
    return lambda text: embedder.encode([text]).reshape(-1)


SETTINGS = AnswerSettings(RetrievalSettings(top_k=2))


def _ask(
    index: MemoryIndex, embedder: FakeEmbedder, text: str, conversation: Conversation | None = None
) -> tuple[Answer, Conversation]:
    question = Question.parse(text, SETTINGS.retrieval.max_question_chars)
    vector = embedder.encode([question.query]).reshape(-1)
    return answer(
        index,
        vector,
        question,
        conversation or Conversation(),
        SETTINGS,
        embed=_embed(embedder),
        decline_message=DECLINE,
    )


def test_a_question_is_answered_by_verbatim_quotes_of_the_generation() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    embedder.calls.clear()
    got, conversation = _ask(index, embedder, "When do farmers plant rice?")
    assert not got.declined
    top = got.quotes[0]
    assert (top.source, top.start, top.text) == ("rice.txt", 0, DOCUMENTS["rice.txt"][0])
    assert got.generation == 7
    assert embedder.embedded == ["When do farmers plant rice?"]  # the question alone: no "embed"
    assert [turn.question for turn in conversation.turns] == ["When do farmers plant rice?"]


def test_an_off_topic_question_gets_the_decline_it_was_given() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    got, _ = _ask(_generation(embedder), embedder, "What is the price of copper?")
    assert got.declined and got.quotes == ()
    assert got.message == DECLINE


def test_a_cut_question_is_answered_as_searched_and_says_so() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    question = Question.parse("rice harvest autumn " * 20, 30)
    vector = embedder.encode([question.query]).reshape(-1)
    got, _ = answer(
        index,
        vector,
        question,
        Conversation(),
        SETTINGS,
        embed=_embed(embedder),
        decline_message=DECLINE,
    )
    assert got.question == question.query and got.question_truncated
    assert got.message == question.note


def test_more_widens_to_passages_not_yet_shown_until_there_are_none() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    first, conversation = _ask(index, embedder, "When do farmers plant rice?")
    shown = {(q.source, q.start) for q in first.quotes}
    for _ in range(len(DOCUMENTS["rice.txt"]) + len(DOCUMENTS["mountains.txt"])):
        more, conversation = _ask(index, embedder, "Tell me more.", conversation)
        if more.declined:
            assert more.message == "That is all my documents say about it."
            break
        spans = {(q.source, q.start) for q in more.quotes}
        assert spans and not spans & shown
        shown |= spans
    else:
        pytest.fail("'more' never ran out of passages")
    assert len(shown) == len(index.chunks)


def test_more_after_a_declined_question_has_nothing_to_continue() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    declined, conversation = _ask(index, embedder, "What is the price of copper?")
    assert declined.declined and conversation.turns[-1].declined
    embedder.calls.clear()
    for request in ("Tell me more.", "go on"):  # and again: still nothing to continue
        more, conversation = _ask(index, embedder, request, conversation)
        assert (more.quotes, more.related, more.declined) == ((), (), True)
        assert more.message == NO_ANSWER_TO_CONTINUE
    assert embedder.embedded == ["Tell me more.", "go on"]  # searched nothing


def test_more_after_more_ran_out_says_that_is_all() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    _, conversation = _ask(index, embedder, "When do farmers plant rice?")
    for _ in range(len(index.chunks)):
        more, conversation = _ask(index, embedder, "Tell me more.", conversation)
    assert more.declined and more.message == NOTHING_MORE
    again, _ = _ask(index, embedder, "go on", conversation)
    assert (again.quotes, again.message) == ((), NOTHING_MORE)


def test_without_a_vector_the_question_is_embedded_only_when_a_search_needs_it() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)

    def ask_lazily(text: str, conversation: Conversation) -> tuple[Answer, Conversation]:
        question = Question.parse(text, SETTINGS.retrieval.max_question_chars)
        return answer(
            index,
            None,
            question,
            conversation,
            SETTINGS,
            embed=_embed(embedder),
            decline_message=DECLINE,
        )

    embedder.calls.clear()
    first, conversation = ask_lazily("When do farmers plant rice?", Conversation())
    assert embedder.embedded == ["When do farmers plant rice?"]
    assert first == _ask(index, embedder, "When do farmers plant rice?")[0]
    embedder.calls.clear()
    more, _ = ask_lazily("Tell me more.", conversation)
    assert more.quotes and "Tell me more." not in embedder.embedded  # "more" searches the last


def test_a_follow_up_searches_with_the_conversation_and_says_which_turns() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    _, conversation = _ask(index, embedder, "When is the rice harvest?")
    embedder.calls.clear()
    follow, _ = _ask(index, embedder, "And where is it dried?", conversation)
    assert follow.context == ("When is the rice harvest?",)
    assert follow.quotes[0].source == "rice.txt"
    # the follow-up itself, then the texts the conversation derives from it (embedded by `embed`)
    assert embedder.embedded[0] == "And where is it dried?"
    assert len(embedder.embedded) > 1


def test_ranked_quotes_keep_the_whole_ranking() -> None:
    embedder = FakeEmbedder(dimension=1024)  # few hash collisions: unrelated texts are far apart
    index = _generation(embedder)
    question = Question.parse("copper prices", 100)
    vector = np.asarray(embedder.encode([question.query]).reshape(-1))
    quotes = ranked_quotes(index, vector, question, 10, SETTINGS.retrieval)
    assert len(quotes) == len(index.chunks)  # nothing declined, nothing cut
