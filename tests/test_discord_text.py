"""strip_mentions: the one way a message's text becomes a question (mentions and /ask's
"Ask quotebot" on a message)."""

from __future__ import annotations

import pytest

from bot.discord.text import strip_mentions


@pytest.mark.parametrize(
    ("text", "user_id", "question"),
    [
        ("<@42> what is the budget?", 42, "what is the budget?"),
        ("what is<@!42>the  budget?\n", 42, "what is the budget?"),
        ("<@42><@!42>", 42, ""),
        ("<@43> keeps other users", 42, "<@43> keeps other users"),
        ("  <@42>  spaced \t out  ", None, "<@42> spaced out"),
        ("", 42, ""),
    ],
)
def test_strip_mentions(text: str, user_id: int | None, question: str) -> None:
    assert strip_mentions(text, user_id) == question
