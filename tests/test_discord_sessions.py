from bot.answering.compose import Quote
from bot.answering.conversation import Conversation, Turn
from bot.answering.decline import NOTHING_MORE
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
