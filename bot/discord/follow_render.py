"""What a follower sees on Discord: the 🔔 acknowledgements, `/following`, and the message sent
when a followed question's answer changed. Pure functions, no discord import; everything from a
document or a user goes through `discord_text` (inert markdown, no mentions)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering.compose import Answer, Quote
from bot.discord.render import CONTENT_BUDGET, render_answer, source_line
from bot.discord.text import shorten, width
from bot.feedback.follows import Followed, Notice
from bot.shared.wording import plural

FOLLOWING_HINT = "/following lists the questions you follow and stops following them."
NONE_FOLLOWED = "You follow no questions. Press 🔔 under an answer to follow its question."
NOT_A_NUMBER = "You follow {count}; give a number from 1 to {count} (see /following)."


def followed_notice(question: str, new: bool) -> str:
    """The ephemeral reply to 🔔."""
    lead = "🔔 Following" if new else "🔔 You already follow"
    return (
        f"{lead}: **{shorten(' '.join(question.split()), 300)}**\n"
        "I will send you a direct message when a document update changes its answer.\n"
        f"-# {FOLLOWING_HINT}"
    )


def limit_notice(message: str) -> str:
    return f"{shorten(message, 500)}. {FOLLOWING_HINT}"


def render_following(rows: Sequence[Followed], budget: int = CONTENT_BUDGET) -> str:
    """The follower's questions, numbered as `/following remove:N` takes them."""
    if not rows:
        return NONE_FOLLOWED
    lines = [f"**You follow {plural(len(rows), 'question')}:**"]
    tail = "-# Stop following one with /following remove:N."
    used = width(lines[0]) + 1 + width(tail)
    for number, row in enumerate(rows, 1):
        line = f"{number}. {shorten(' '.join(row.question.split()), 150)}"
        more = f"… and {len(rows) - number + 1} more"
        if used + 1 + width(line) + 1 + width(more) > budget and number < len(rows):
            lines.append(more)
            break
        lines.append(line)
        used += 1 + width(line)
    return "\n".join([*lines, tail])


def removed_notice(row: Followed) -> str:
    return f"Stopped following: **{shorten(' '.join(row.question.split()), 300)}**"


def render_change(row: Followed, notice: Notice, mention: int | None = None) -> str:
    """One message: the question, the new top quote (as an answer is shown), then what was
    quoted before. `mention`: a user id to ping (the reply when direct messages are closed)."""
    head = "🔔 **The answer to a question you follow changed**"
    if mention is not None:
        head = f"<@{mention}> {head}"
    before = "-# Before: " + _brief(notice.old)
    tail = f"-# {FOLLOWING_HINT}"
    budget = CONTENT_BUDGET - width(head) - width(before) - width(tail) - 3
    if notice.new is None:
        body = f"**Question:** {shorten(row.question, 300)}\nMy documents no longer answer it."
    else:
        context = tuple(turn.question for turn in row.context.turns)
        answer = Answer(row.question, (notice.new,), False, context=context)
        body = render_answer(answer, show_question=True, budget=budget)
    return "\n".join([head, body, before, tail])


def _brief(quote: Quote | None) -> str:
    if quote is None:
        return "not answered by the documents."
    return f"“{shorten(' '.join(quote.text.split()), 200)}” {source_line(quote)}"
