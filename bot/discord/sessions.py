"""Conversations of a chat surface: one per (user, channel or thread), forgotten when idle.

Pure (the clock is handed in). A chat channel is shared, so the key always holds the user: one
person's follow-up is never read in the context of someone else's question. Idle expiry keeps a
question asked tomorrow from being pulled toward today's topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answering.compose import Answer, Quote, overlaps
from bot.answering.conversation import Conversation, Turn, nothing_to_continue
from bot.answering.decline import NOTHING_MORE

NEXT_PASSAGE = "next passage"


@dataclass(frozen=True, slots=True)
class ChatKey:
    user_id: int
    channel_id: int  # the channel, or the thread, the conversation happens in


class ChatSessions:
    """Live conversations by key; a conversation idle for `idle_seconds` is gone."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float]) -> None:
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._live: dict[ChatKey, tuple[Conversation, float]] = {}

    def get(self, key: ChatKey) -> Conversation:
        """The conversation under `key`, or a fresh one if there is none or it went idle."""
        self._forget_idle()
        entry = self._live.get(key)
        return entry[0] if entry else Conversation()

    def put(self, key: ChatKey, conversation: Conversation) -> None:
        self._live[key] = (conversation, self._clock())

    def __len__(self) -> int:
        self._forget_idle()
        return len(self._live)

    def _forget_idle(self) -> None:
        now = self._clock()
        for key in [k for k, (_, at) in self._live.items() if now - at >= self.idle_seconds]:
            del self._live[key]


def next_passage(conversation: Conversation, ranked: Sequence[Quote]) -> tuple[Answer, Turn]:
    """The best of `ranked` (the passages for the last turn's search, best first) that the
    conversation has not shown yet; or "that is all" when every one was shown."""
    last = conversation.last
    assert last is not None
    shown = conversation.shown()
    context = (*last.used_context, last.question)[-2:]
    if last.declined:  # no answer to continue: the ranked passages were judged not to answer
        message = nothing_to_continue(last)
        return Answer(NEXT_PASSAGE, (), True, message, context), Turn(
            NEXT_PASSAGE, last.query, (), context, declined=True
        )
    for quote in ranked:
        if not any(overlaps(quote, s) for s in shown):
            answer = Answer(NEXT_PASSAGE, (quote,), False, None, context)
            return answer, Turn(NEXT_PASSAGE, last.query, (quote,), context)
    return Answer(NEXT_PASSAGE, (), True, NOTHING_MORE, context), Turn(
        NEXT_PASSAGE, last.query, (), context
    )
