"""What the Discord surface needs from `bot.service.QuoteService`: the seam every desk and command
of `bot.discord` is given, so each is built over a fake in tests and none imports the client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation
from bot.index.changelog import ChangeEntry
from bot.index.generation import DocumentRecord
from bot.index.report import UpdateReport


class Service(Protocol):
    """What the Discord surface needs from `bot.service.QuoteService`."""

    def question_vector(self, text: str) -> Any: ...

    def refresh(self, progress: Callable[[int, int], None] | None = None) -> UpdateReport: ...

    def ask(self, question: str) -> Answer: ...

    def converse(
        self, conversation: Conversation, question: str
    ) -> tuple[Answer, Conversation]: ...

    def ranked_quotes(self, question: str, k: int = 10) -> list[Quote]: ...

    def sources(self) -> list[DocumentRecord]: ...

    def changes(self) -> list[ChangeEntry]: ...

    def serve_latest(self) -> int | None: ...
