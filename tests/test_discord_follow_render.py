"""What a follower reads: within Discord's limits, inert, and numbered as /following takes them."""

from __future__ import annotations

from bot.answering.compose import Quote
from bot.answering.conversation import Conversation, Turn
from bot.discord.follow_render import (
    NONE_FOLLOWED,
    followed_notice,
    render_change,
    render_following,
)
from bot.discord.render import CONTENT_BUDGET
from bot.discord.text import width
from bot.feedback.follows import Followed, Notice

NASTY = "@everyone look at <@123> and **this** [link](https://evil.example) " * 80


def _quote(text: str) -> Quote:
    return Quote("notes.txt", 0, len(text), text, (0, min(len(text), 40)), 0.9, 3)


def _row(
    question: str = "Who runs the @everyone fund?", context: Conversation | None = None
) -> Followed:
    return Followed(1, "discord", "7", question, context or Conversation(), None, 1)


def test_a_change_fits_one_message_and_pings_nobody_but_the_follower() -> None:
    row = _row(NASTY, Conversation((Turn("What is the fund?", "What is the fund?", ()),)))
    for mention in (None, 42):
        text = render_change(row, Notice(_quote(NASTY), _quote(NASTY), 3), mention=mention)
        assert width(text) <= CONTENT_BUDGET
        assert "@everyone" not in text and "<@123>" not in text
        assert ("<@42>" in text) == (mention == 42)
        assert "↳ following up on: What is the fund?" in text


def test_a_change_to_no_answer_and_from_no_answer() -> None:
    gone = render_change(_row(), Notice(_quote("Ada runs it."), None, 2))
    assert "My documents no longer answer it." in gone and "Before: “Ada runs it.”" in gone
    found = render_change(_row(), Notice(None, _quote("Ada runs it."), 2))
    assert "-# Before: not answered by the documents." in found
    assert "Ada runs it." in found and "— notes.txt ¶3" in found


def test_following_lists_numbered_and_summarises_a_long_tail() -> None:
    assert render_following([]) == NONE_FOLLOWED
    rows = [
        Followed(n, "discord", "7", f"question {n} " + "x" * 140, Conversation(), None, 1)
        for n in range(50)
    ]
    text = render_following(rows)
    assert width(text) <= CONTENT_BUDGET
    lines = text.splitlines()
    assert lines[0] == "**You follow 50 questions:**" and lines[1].startswith("1. question 0 ")
    assert lines[-2].startswith("… and ") and lines[-1].startswith("-# Stop following")


def test_the_follow_acknowledgement_is_inert() -> None:
    text = followed_notice("Is <@123> **in**?", new=True)
    assert text.startswith("🔔 Following: **") and "<@123>" not in text
    assert followed_notice("q", new=False).startswith("🔔 You already follow: **q**")
