from bot.answering.compose import Quote
from bot.answering.conversation import Conversation, Turn
from bot.answering.decline import NO_ANSWER_TO_CONTINUE, NOTHING_MORE
from bot.discord.sessions import NEXT_PASSAGE, next_passage


def _quote(start: int, end: int) -> Quote:
    return Quote("a.txt", start, end, "x" * (end - start), None, 1.0, 1)


def test_next_passage_skips_what_was_shown_and_then_says_that_is_all() -> None:
    shown, fresh = _quote(0, 10), _quote(20, 30)
    conversation = Conversation().add(Turn("q?", "q", (shown,)))
    answer, turn = next_passage(conversation, [_quote(5, 15), fresh])
    assert answer.quotes == (fresh,) and turn.quotes == (fresh,)
    answer, turn = next_passage(conversation.add(turn), [_quote(5, 15), fresh])
    assert (answer.question, answer.quotes, answer.declined) == (NEXT_PASSAGE, (), True)
    assert answer.message == NOTHING_MORE == "That is all my documents say about it."


def test_next_passage_after_a_declined_question_offers_nothing_as_an_answer() -> None:
    """The ranked passages of a declined question were judged not to answer it: "next" must
    not present the best of them as the answer."""
    conversation = Conversation().add(Turn("Who is the mayor?", "mayor", (), declined=True))
    answer, turn = next_passage(conversation, [_quote(0, 10)])
    assert (answer.quotes, answer.declined, answer.message) == ((), True, NO_ANSWER_TO_CONTINUE)
    assert turn.declined and turn.quotes == ()
