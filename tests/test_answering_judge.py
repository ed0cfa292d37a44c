"""The answer judge: its embedding caches (sentences per passage, words per word, in batches)
and the judge vector table the index writer fills (issue 15)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.answering.judge import PassageJudge
from bot.answering.retrieval import Hit
from bot.answering.signals import focus_words, without_focus
from bot.cli import compose_service
from bot.config import Settings
from bot.embedding.onnx_encoder import export_folder
from bot.embedding.questions import RuntimeEmbedder
from bot.index.generation import DocumentRecord, IndexRecipe, Manifest, MemoryIndex
from bot.index.judge_vectors import Kind
from bot.ingest.chunking import Chunk, ChunkerSettings
from bot.service import QuoteService
from bot.stores.judge_sqlite import FILE
from tests.fakes import FakeEmbedder


def test_a_passage_sentences_are_embedded_once_in_one_call() -> None:
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder)
    passage = "The Normans settled in Normandy. They kept the Frankish laws."
    first, _ = judge._passage_vectors(passage)
    again, _ = judge._passage_vectors(passage)
    sentences = ["The Normans settled in Normandy.", "They kept the Frankish laws."]
    assert embedder.calls[0] == sentences and sentences not in embedder.calls[1:]
    assert np.array_equal(first, again) and first.shape == (2, embedder.dimension)


def test_only_words_not_seen_before_are_embedded_together() -> None:
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder)
    judge._word_vectors(["normans", "normandy", "laws"])
    vectors = judge._word_vectors(["laws", "duke", "normans", "treaty"])
    assert embedder.calls == [["normans", "normandy", "laws"], ["duke", "treaty"]]
    expected = FakeEmbedder().encode(["laws", "duke", "normans", "treaty"])
    assert np.allclose(vectors, expected)  # rows in the asked order, cached or not


def test_the_encoder_is_settled_once_and_nothing_to_embed_costs_no_call() -> None:
    """`prepare` is idempotent: the judge calls it before its first use only, and a lookup
    that left nothing to embed (most, with a complete table) asks the encoder nothing."""
    prepared: list[None] = []
    embedder = FakeEmbedder()
    table = DictVectors(_filled(PassageJudge(FakeEmbedder()), [PASSAGE]))
    judge = PassageJudge(
        embedder, vectors=lambda model, dimension: table, prepare=lambda: prepared.append(None)
    )
    for _ in range(3):
        judge._passage_vectors(PASSAGE)
        assert judge._encode([]).shape == (0, embedder.dimension)
    judge.encode(["duke"])
    assert len(prepared) == 1 and embedder.calls == [["duke"]]


def test_no_words_embed_nothing() -> None:
    embedder = FakeEmbedder()
    assert PassageJudge(embedder)._word_vectors([]).shape == (0, embedder.dimension)
    assert embedder.calls == []


def test_many_words_are_embedded_in_bounded_batches() -> None:
    from bot.answering.judge import BATCH

    embedder = FakeEmbedder()
    words = [f"word{n}" for n in range(BATCH * 2 + 1)]
    assert PassageJudge(embedder)._word_vectors(words).shape == (len(words), embedder.dimension)
    assert [len(call) for call in embedder.calls] == [BATCH, BATCH, 1]


# -- the judge vector table the writer fills (issue 15) -------------------------------------------


class DictVectors:
    """A judge vector table in memory: what `lookup` was asked, and rows one may spoil."""

    def __init__(self, rows: dict[tuple[Kind, str], np.ndarray]) -> None:
        self.rows = rows
        self.asked: list[list[tuple[Kind, str]]] = []

    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        self.asked.append(list(texts))
        return {text: self.rows[text] for text in texts if text in self.rows}


class BrokenVectors:
    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        raise OSError("disk gone")


PASSAGE = "The Normans settled in Normandy. They kept the Frankish laws."


def _filled(judge: PassageJudge, texts: Sequence[str]) -> dict[tuple[Kind, str], np.ndarray]:
    rows: dict[tuple[Kind, str], np.ndarray] = {}
    for text in texts:
        sentences, words = judge.judge_texts(text)
        rows.update(zip([("sentence", s) for s in sentences], judge.encode(sentences), strict=True))
        rows.update(zip([("word", w) for w in words], judge.encode(words), strict=True))
    return rows


def _index(passages: Sequence[str]) -> MemoryIndex:
    """One document, one chunk per passage (offsets as if joined by blank lines)."""
    embedder = FakeEmbedder()
    chunks, start = [], 0
    for number, passage in enumerate(passages, start=1):
        chunks.append(Chunk("doc.txt", start, start + len(passage), passage, number))
        start += len(passage) + 2
    record = DocumentRecord("doc.txt", "0" * 64, start, len(chunks), start, "")
    manifest = Manifest(
        IndexRecipe(embedder.spec.model_id, ChunkerSettings()),
        embedder.dimension,
        {"doc.txt": record},
    )
    return MemoryIndex(manifest, chunks, embedder.encode(passages))


def test_a_passage_in_the_table_embeds_nothing_in_one_lookup() -> None:
    table = DictVectors(_filled(PassageJudge(FakeEmbedder()), [PASSAGE]))
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder, vectors=lambda model, dimension: table)
    sentences, words = judge._passage_vectors(PASSAGE)
    plain = PassageJudge(FakeEmbedder())._passage_vectors(PASSAGE)
    assert embedder.calls == [] and len(table.asked) == 1
    assert sentences.tobytes() == plain[0].tobytes() and words.tobytes() == plain[1].tobytes()
    judge._passage_vectors(PASSAGE)  # then the caches: the table is not asked again
    assert len(table.asked) == 1


def test_what_the_table_lacks_is_embedded_as_before() -> None:
    table = DictVectors({})
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder, vectors=lambda model, dimension: table)
    sentences, words = judge._passage_vectors(PASSAGE)
    assert embedder.calls[0] == ["The Normans settled in Normandy.", "They kept the Frankish laws."]
    assert sentences.shape == (2, embedder.dimension) and len(words) == len(embedder.calls[1])


def test_a_table_that_fails_is_as_good_as_absent(caplog: pytest.LogCaptureFixture) -> None:
    judge = PassageJudge(FakeEmbedder(), vectors=lambda model, dimension: BrokenVectors())
    sentences, words = judge._passage_vectors(PASSAGE)
    plain = PassageJudge(FakeEmbedder())._passage_vectors(PASSAGE)
    assert sentences.tobytes() == plain[0].tobytes() and words.tobytes() == plain[1].tobytes()
    assert "disk gone" in caplog.text


def test_focus_words_are_looked_up_as_words() -> None:
    table = DictVectors(_filled(PassageJudge(FakeEmbedder()), ["The mayor of Caen."]))
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder, vectors=lambda model, dimension: table)
    assert set(judge._known_words(["mayor", "duke"])) == {"mayor"}


def _onnx_service(
    knowledge: Path,
    make_settings: Callable[..., Settings],
    real_embedder: Any,
    onnx_export: Path,
) -> tuple[QuoteService, RuntimeEmbedder, Settings]:
    """The real pipeline over `knowledge`: the session's ONNX export installed where the index
    keeps it, the service refreshed (so the writer has filled the judge's table)."""
    settings = make_settings(knowledge)
    model_id = real_embedder.spec.model_id
    shutil.copytree(
        export_folder(onnx_export, model_id), export_folder(settings.index_dir / "onnx", model_id)
    )
    embedder = RuntimeEmbedder(real_embedder, settings.index_dir / "onnx", threads=1)
    service = compose_service(settings, embedder=embedder, on_notice=lambda m: None)
    service.refresh()
    return service, embedder, settings


@pytest.mark.model
def test_judge_probabilities_are_identical_with_and_without_the_table(
    knowledge: Path,
    make_settings: Callable[..., Settings],
    real_embedder: Any,
    onnx_export: Path,
) -> None:
    """The real pipeline (ONNX question encoder, the files store's table filled by the writer)
    against a judge that embeds everything: the same probabilities to the last bit, over every
    passage of the bundled article, for questions it answers and questions it declines."""
    service, embedder, settings = _onnx_service(
        knowledge, make_settings, real_embedder, onnx_export
    )
    assert (settings.index_dir / FILE).is_file()
    assert service.judge.applies and " onnx-" in service.judge.model_id
    plain = PassageJudge(embedder)
    index = service.index
    questions = [
        "How many grassroots party organizations are there in Jingzhou?",
        "Who is the mayor of Jingzhou?",
        "What did the party secretary say about rural areas?",
    ]
    for question in questions:
        vector = embedder.encode_question(question)
        with_table = service.judge.for_question(index, question, vector)
        without = plain.for_question(index, question, vector)
        for chunk_id in range(index.manifest.chunk_count):
            hit = Hit(chunk_id, 0.5, float(index.vectors[chunk_id] @ vector), 0.0)
            assert with_table(hit) == without(hit)
    table = service.judge._table()
    assert table is not None
    for chunk_id in range(index.manifest.chunk_count):  # the writer filled every text
        sentences, words = service.judge.judge_texts(index.chunk(chunk_id).text)
        wanted: list[tuple[Kind, str]] = [("sentence", s) for s in sentences]
        wanted += [("word", w) for w in words]
        assert len(table.lookup(wanted)) == len(set(wanted))

    # A reader that finds the table unreadable still answers, the same answer, with a warning.
    asked = service.ask(questions[0])
    (settings.index_dir / FILE).write_bytes(b"garbage " * 1000)
    reader = compose_service(settings, embedder=embedder, on_notice=lambda m: None)
    again = reader.ask(questions[0])
    assert [(q.source, q.start, q.end, q.score) for q in again.quotes] == [
        (q.source, q.start, q.end, q.score) for q in asked.quotes
    ]


def test_the_question_without_its_focus_is_a_companion_until_remembered() -> None:
    judge = PassageJudge(FakeEmbedder())
    question = "Who is the mayor of Jingzhou?"
    topic, word = judge.companions(question)
    assert "mayor" not in topic and "Jingzhou" in topic and word == "mayor"
    judge.remember(question, [topic, word], FakeEmbedder().encode([topic, word]))
    assert judge.companions(question) == []
    assert judge.companions("Who was Rollo?") == []  # no focus: the question itself, nothing more


def test_focus_words_not_yet_known_are_companions_and_then_kept_as_words() -> None:
    """Focus words in neither the word cache nor the table ride with the question; once
    remembered they are in the word cache, so judging embeds neither them nor the topic."""
    table = DictVectors(_filled(PassageJudge(FakeEmbedder()), ["The secretary of Caen."]))
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder, vectors=lambda model, dimension: table)
    question = "Who is the party secretary of Caen?"
    topic = "Who is the of Caen?"
    assert judge.companions(question) == [topic, "party"]  # 'secretary' is in the table
    texts = judge.companions(question)
    judge.remember(question, texts, FakeEmbedder().encode(texts))
    assert judge.companions(question) == []
    assert judge._words.get("party") is not None and judge._words.get("secretary") is not None
    assert judge._topics.get("party") is None and judge._words.get(topic) is None
    index = _index(["The party secretary of Caen met the duke."])
    vector = FakeEmbedder().encode([question])[0]
    judged = judge.for_question(index, question, vector)
    probability = judged(Hit(0, 0.5, 0.5, 0.0))
    assert not any(text in call for call in embedder.calls for text in [topic, "party"])
    plain = PassageJudge(FakeEmbedder()).for_question(index, question, vector)
    assert probability == plain(Hit(0, 0.5, 0.5, 0.0))


def test_a_focus_word_that_is_also_the_topic_is_kept_as_both() -> None:
    judge = PassageJudge(FakeEmbedder())
    question = "mayor"
    assert focus_words(question) == ["mayor"] and without_focus(question) == ""
    texts = judge.companions(question)
    assert texts == ["", "mayor"]
    judge.remember(question, texts, FakeEmbedder().encode(texts))
    assert judge._topics.get("") is not None and judge._words.get("mayor") is not None


@pytest.mark.model
def test_the_service_embeds_the_judges_companion_with_the_question(
    knowledge: Path,
    make_settings: Callable[..., Settings],
    real_embedder: Any,
    onnx_export: Path,
) -> None:
    """question_vector embeds the question and the question without its focus in one ONNX
    call: the question's vector is the one it gets alone, bit for bit, the judge embeds no
    second question text, and its probabilities are those of a judge that embedded it."""
    service, embedder, _ = _onnx_service(knowledge, make_settings, real_embedder, onnx_export)
    calls: list[list[str]] = []
    encode_questions = embedder.encode_questions

    def recorded(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return encode_questions(texts)

    embedder.encode_questions = recorded  # type: ignore[method-assign]
    question = "Who is the mayor of Jingzhou?"
    (topic, word) = service.judge.companions(question)  # 'mayor': in no passage, nor the table
    vector = service.question_vector(question)
    assert calls == [[question, topic, word]]
    assert np.array_equal(vector, embedder.encode_question(question))
    # A word embedded beside the question has the vector it gets alone, bit for bit.
    kept = service.judge._words.get(word)
    assert kept is not None and np.array_equal(kept, encode_questions([word])[0])
    index = service.index
    judged = service.judge.for_question(index, question, vector)
    hits = [
        Hit(chunk_id, 0.5, float(index.vectors[chunk_id] @ vector), 0.0)
        for chunk_id in range(index.manifest.chunk_count)
    ]
    probabilities = [judged(hit) for hit in hits]
    assert not any(topic in texts or word in texts for texts in calls[1:])  # not embedded again
    plain = PassageJudge(embedder).for_question(index, question, vector)
    assert probabilities == [plain(hit) for hit in hits]

    # A question with no focus words is its own topic: nothing is embedded beside it.
    focusless = "Who was he?"
    assert service.judge.companions(focusless) == []
    calls.clear()
    vector = service.question_vector(focusless)
    judged = service.judge.for_question(index, focusless, vector)
    probabilities = [judged(hit) for hit in hits]
    assert calls == [[focusless]]
    plain = PassageJudge(embedder).for_question(index, focusless, vector)
    assert probabilities == [plain(hit) for hit in hits]
