"""End to end with the real bundled model on the seed article (questions of our own)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.errors import QuestionError
from bot.service import QuoteService
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.model


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Where in Hubei did grassroots organizations boost their service role?", "Jingzhou"),
        ("What kind of economy should the organizations develop?", "collective economy"),
        ("Which leaders are listed at the top of the page?", "Wen Jiabao"),
        ("What will the new role of the organizations be?", "service provider"),
        ("What is the fifth measure about?", "channels of public services"),
    ],
)
def test_answers_quote_the_right_passage(
    seed_service: QuoteService, question: str, expected: str
) -> None:
    answer = seed_service.ask(question)
    assert not answer.declined
    assert any(expected in quote.text for quote in answer.quotes)


def test_quotes_are_verbatim_with_a_highlight_inside(
    seed_service: QuoteService, knowledge: Path
) -> None:
    text = next(knowledge.iterdir()).read_text(encoding="utf-8")
    answer = seed_service.ask("How do the organizations improve service efficiency?")
    for quote in answer.quotes:
        assert text[quote.start : quote.end] == quote.text
        if quote.highlight:
            assert quote.start <= quote.highlight[0] < quote.highlight[1] <= quote.end


@pytest.mark.parametrize(
    "question",
    [
        "How many moons does Jupiter have?",
        "Best way to cook spaghetti carbonara?",
    ],
)
def test_off_topic_questions_are_declined_with_what_is_covered(
    seed_service: QuoteService, question: str
) -> None:
    answer = seed_service.ask(question)
    assert answer.declined and not answer.quotes
    assert answer.message and "jingzhou" in answer.message.lower()


@pytest.mark.parametrize("question", ["", "   \n\t", "\u200b\u200c\u200d\ufeff", "\u202e"])
def test_empty_questions_are_refused_before_searching(
    seed_service: QuoteService, question: str
) -> None:
    with pytest.raises(QuestionError, match="empty"):
        seed_service.ask(question)


@pytest.mark.parametrize(
    "question",
    [
        "collective economy " * 6000,  # ~100,000 characters
        "what\x00 is\x07 the\x1b[31m third measure?",
        "wh\u200bat is the th\u200dird measure?",
        "🙂🙂 what about the economy? 🚀",
        "ما هي الخدمة؟ service centers",
        "\ud800 lone surrogate",
        "e\u0301" * 500,
    ],
)
def test_odd_input_gets_an_answer_or_a_decline(seed_service: QuoteService, question: str) -> None:
    answer = seed_service.ask(question)
    assert answer.declined or answer.quotes


def test_long_question_is_shortened_with_a_note(seed_service: QuoteService) -> None:
    answer = seed_service.ask("collective economy " * 6000)
    assert answer.message and "long" in answer.message


def test_follow_up_uses_the_conversation(seed_service: QuoteService) -> None:
    from bot.answering.conversation import Conversation

    first, conversation = seed_service.converse(
        Conversation(), "What should the organizations develop to increase financial capacity?"
    )
    assert "collective economy" in first.quotes[0].text and first.context == ()
    follow, conversation = seed_service.converse(conversation, "And which kind above all?")
    assert follow.context == (first.question,)
    assert "rural collective economy" in follow.quotes[0].text


def test_more_widens_to_the_next_passage_never_repeating(
    seed_service: QuoteService, knowledge: Path
) -> None:
    from bot.answering.conversation import Conversation

    text = next(knowledge.iterdir()).read_text(encoding="utf-8")
    first, conversation = seed_service.converse(Conversation(), "What is the first measure?")
    more, conversation = seed_service.converse(conversation, "Tell me more.")
    top = first.quotes[0]
    assert more.quotes and more.quotes[0].start >= top.end
    assert text[more.quotes[0].start : more.quotes[0].end] == more.quotes[0].text
    again, _ = seed_service.converse(conversation, "go on")
    shown = {(q.start, q.end) for q in (*first.quotes, *more.quotes)}
    assert not shown & {(q.start, q.end) for q in again.quotes}


def test_after_a_decline_more_continues_nothing_and_follow_ups_are_judged(
    seed_service: QuoteService,
) -> None:
    """'Tell me more' after a declined question quoted the page's footer ("Related News...",
    0.36) as an answer, and 'What about its population?' three passages nobody judged."""
    from bot.answering.conversation import Conversation
    from bot.answering.decline import NO_ANSWER_TO_CONTINUE

    declined, conversation = seed_service.converse(Conversation(), "Who is the mayor of Jingzhou?")
    assert declined.declined and declined.related
    more, _ = seed_service.converse(conversation, "Tell me more.")
    assert (more.quotes, more.declined, more.message) == ((), True, NO_ANSWER_TO_CONTINUE)
    for follow_up in ("What about its population?", "Who elected him?", "And when?"):
        answer, _ = seed_service.converse(conversation, follow_up)
        assert answer.declined and answer.quotes == (), follow_up
        assert answer.context == ("Who is the mayor of Jingzhou?",)


def test_a_follow_up_after_a_decline_can_still_be_answered(seed_service: QuoteService) -> None:
    """Judged, not refused: a follow-up the documents do answer is answered."""
    from bot.answering.conversation import Conversation

    _, conversation = seed_service.converse(Conversation(), "Who is the mayor of Jingzhou?")
    answer, _ = seed_service.converse(conversation, "And what is its third measure?")
    assert not answer.declined and "collective economy" in answer.quotes[0].text


def test_a_new_topic_is_answered_as_asked_alone(seed_service: QuoteService) -> None:
    from bot.answering.conversation import Conversation

    _, conversation = seed_service.converse(Conversation(), "What is the second measure?")
    question = "Is Xi Jinping in the top leadership list?"
    answer, _ = seed_service.converse(conversation, question)
    assert answer.context == () and answer.quotes == seed_service.ask(question).quotes


def test_a_question_naming_only_unknown_things_is_declined(seed_service: QuoteService) -> None:
    assert seed_service.ask("What did Picasso paint in Barcelona?").declined
    assert not seed_service.ask("Is Li Keqiang among the leaders?").declined


def test_a_cut_question_is_echoed_as_searched_and_remembered_so(
    fake_service: QuoteService,
) -> None:
    """A 3 MB question: the answer (and a conversation's memory of it) holds exactly the part
    that was embedded and searched, `max_question_chars` at most, and says it was cut."""
    from bot.answering.conversation import Conversation
    from bot.terminal.render import answer_to_json

    embedder = fake_service.embedder
    assert isinstance(embedder, FakeEmbedder)
    huge = "What about the  collective economy?\n" * 90_000
    answer = fake_service.ask(huge)
    # The question embedded is the part searched (the answer's judge embeds passages after it).
    assert answer.question_truncated and [answer.question] in embedder.calls
    assert all(len(text) <= len(answer.question) for call in embedder.calls for text in call)
    assert 1000 < len(answer.question) <= fake_service.settings.retrieval.max_question_chars
    assert answer.question.startswith("What about the collective economy? What about")
    assert answer_to_json(answer)["question_truncated"] is True
    assert answer.message == (
        f"Your question was long; I searched for its first {len(answer.question)} characters."
    )

    short = fake_service.ask("What about the collective economy?")
    assert not short.question_truncated and "question_truncated" not in answer_to_json(short)

    turn, conversation = fake_service.converse(Conversation(), huge)
    assert turn.question_truncated and turn.question == answer.question
    follow, _ = fake_service.converse(conversation, "And the infrastructure?")
    assert follow.context == (answer.question,)


# Near-domain questions of our own (bench/data/answerability_own.jsonl, never fitted on): about
# Jingzhou and its Party organizations, but asking for something the article does not say.
@pytest.mark.parametrize(
    "question",
    [
        "Who is the party secretary of Jingzhou?",
        "How many Party members live in Jingzhou?",
        "When was Jingzhou founded as a city?",
        "What is the average income of citizens in Jingzhou?",
        # The article's own words with one thing changed: a negation added, a year it never
        # mentions (bot/answering/mismatch.py).
        "Which measure did Jingzhou never take?",
        "What did Jingzhou strengthen in 2015?",
        # ... or a word turned into its opposite ("increase" -> "decrease", "first" -> "last").
        "What should grassroots-level Party organizations develop to decrease their financial capacity?",
        "What is the last step of the construction of buildings for Party members?",
    ],
)
def test_near_domain_questions_the_article_does_not_answer_are_declined(
    seed_service: QuoteService, knowledge: Path, question: str
) -> None:
    answer = seed_service.ask(question)
    assert answer.declined and answer.quotes == ()
    assert answer.message and answer.message.startswith("My documents don't")
    # The nearest passages are still offered, verbatim, as related reading.
    text = next(knowledge.iterdir()).read_text(encoding="utf-8")
    assert answer.related
    for quote in answer.related:
        assert text[quote.start : quote.end] == quote.text
        assert 0.0 <= quote.score < seed_service.judge.threshold or quote is not answer.related[0]


def test_the_decline_says_what_was_not_found_in_the_question_s_words(
    seed_service: QuoteService,
) -> None:
    answer = seed_service.ask("Who is the party secretary of Jingzhou?")
    assert answer.message == "My documents don't say who the party secretary of Jingzhou is."


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which province is Jingzhou in?", "Hubei Province"),
        ("What is the foundation of the Party?", "grassroots-level organizations"),
        ("Where should service centers be established?", "rural areas"),
        ("What should cadres always be available to do?", "deal with difficulties"),
        # A negation the passage also says is no mismatch.
        ("What is not only the key task of grassroots-level Party organizations?", "collective"),
        ("What should be streamlined to improve service efficiency?", "work procedures"),
        # The question's word is the passage's own, not its opposite.
        ("What should they develop to increase their financial capacity?", "collective economy"),
    ],
)
def test_near_domain_questions_it_answers_are_not_declined_and_score_high(
    seed_service: QuoteService, question: str, expected: str
) -> None:
    answer = seed_service.ask(question)
    assert not answer.declined and answer.related == ()
    assert expected in answer.quotes[0].text
    assert seed_service.judge.threshold < answer.quotes[0].score <= 1.0


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the article about?", "Grassroots Party organizations"),
        ("Which province's city does the story describe?", "Hubei Province"),
        ("What does this report discuss?", "Grassroots Party organizations"),
    ],
)
def test_a_question_about_the_document_is_answered_by_its_lead(
    seed_service: QuoteService, question: str, expected: str
) -> None:
    # Its words name no topic: without the lead it was declined (docs/answerability.md).
    answer = seed_service.ask(question)
    assert not answer.declined
    assert any(expected in quote.text for quote in answer.quotes)
    assert all(quote.start < 800 for quote in answer.quotes)  # the opening, not the menu
    assert answer.quotes[0].score == pytest.approx(
        seed_service.judge.calibration.fact_probability, abs=1e-4
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What kinds of service platforms does the article describe?", "service platforms"),
        ("Which role change does the article describe?", "change the role"),
    ],
)
def test_a_question_of_that_form_the_passages_answer_keeps_them(
    seed_service: QuoteService, question: str, expected: str
) -> None:
    # The lead is the fallback of a question about the document that would be declined, not a
    # lift over passages that answer it.
    answer = seed_service.ask(question)
    assert not answer.declined
    assert expected in answer.quotes[0].text
    assert answer.quotes[0].start > 1000  # not the opening
    assert answer.quotes[0].score != pytest.approx(
        seed_service.judge.calibration.fact_probability, abs=1e-4
    )


def test_serve_latest_follows_a_writer_in_another_process(
    knowledge: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(knowledge)
    reader = compose_service(settings, embedder=FakeEmbedder(), on_notice=lambda m: None)
    reader.refresh()
    first = reader.index.manifest.generation
    assert reader.serve_latest() == first
    (knowledge / "new.txt").write_text("The lighthouse keeper retired in May.\n", encoding="utf-8")
    writer = compose_service(settings, embedder=FakeEmbedder(), on_notice=lambda m: None)
    writer.refresh()
    assert reader.index.manifest.generation == first  # a files store is not followed by itself
    assert reader.serve_latest() == first + 1
    assert reader.index.manifest.generation == first + 1
    assert any(
        q.source == "new.txt" for q in reader.ask("When did the lighthouse keeper retire?").quotes
    )
