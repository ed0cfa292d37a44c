"""Score conversations (format: shared/eval/README.md) turn by turn, by kind of turn.

Each conversation is replayed through `converse`, exactly as the REPL and `ask --follow-ups` do;
every turn is also asked alone, so the report shows what the conversation adds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.answering.compose import Answer
from bot.answering.conversation import Conversation
from bot.errors import QuotebotError
from bot.evaluation.questions import contains_answer

FOLLOW_UP_KINDS = ("pronoun", "ellipsis", "more")


@dataclass(frozen=True, slots=True)
class ChatTurn:
    question: str
    answers: tuple[str, ...]
    kind: str


@dataclass(frozen=True, slots=True)
class ChatConversation:
    docs: str | None
    turns: tuple[ChatTurn, ...]


class Conversant(Protocol):
    def ask(self, question: str) -> Answer: ...

    def converse(
        self, conversation: Conversation, question: str
    ) -> tuple[Answer, Conversation]: ...


@dataclass
class KindScore:
    turns: int = 0
    hit_at_1: int = 0
    hit_at_3: int = 0
    alone_hit_at_1: int = 0
    alone_hit_at_3: int = 0

    def add(self, answer: Answer, alone: Answer, answers: tuple[str, ...]) -> None:
        found = [contains_answer(q.text, answers) for q in answer.quotes]
        found_alone = [contains_answer(q.text, answers) for q in alone.quotes]
        self.turns += 1
        self.hit_at_1 += bool(found[:1] and found[0])
        self.hit_at_3 += any(found[:3])
        self.alone_hit_at_1 += bool(found_alone[:1] and found_alone[0])
        self.alone_hit_at_3 += any(found_alone[:3])

    def to_json(self) -> dict[str, Any]:
        n = max(self.turns, 1)
        return {
            "turns": self.turns,
            "hit_at_1": round(self.hit_at_1 / n, 4),
            "hit_at_3": round(self.hit_at_3 / n, 4),
            "alone_hit_at_1": round(self.alone_hit_at_1 / n, 4),
            "alone_hit_at_3": round(self.alone_hit_at_3 / n, 4),
        }


@dataclass
class ChatReport:
    by_kind: dict[str, KindScore] = field(default_factory=dict)

    @property
    def follow_ups(self) -> KindScore:
        total = KindScore()
        for kind in FOLLOW_UP_KINDS:
            score = self.by_kind.get(kind)
            if score:
                for name in ("turns", "hit_at_1", "hit_at_3", "alone_hit_at_1", "alone_hit_at_3"):
                    setattr(total, name, getattr(total, name) + getattr(score, name))
        return total

    def to_json(self) -> dict[str, Any]:
        kinds = {kind: score.to_json() for kind, score in sorted(self.by_kind.items())}
        return {"by_kind": kinds, "follow_ups": self.follow_ups.to_json()}


def is_conversation_file(path: Path) -> bool:
    """True when the first record of a JSONL file has `turns` (a conversation set)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return "turns" in json.loads(line)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return False


def load_conversations(path: Path) -> list[ChatConversation]:
    conversations = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            turns = tuple(
                ChatTurn(
                    str(t["question"]),
                    tuple(map(str, t["answers"])),
                    str(t.get("kind", "first" if i == 0 else "pronoun")),
                )
                for i, t in enumerate(row["turns"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise QuotebotError(f"{path}:{number}: not a conversation record ({exc})") from None
        conversations.append(ChatConversation(row.get("docs"), turns))
    if not conversations:
        raise QuotebotError(f"{path} holds no conversations")
    return conversations


def docs_folder(name: str | None, question_file: Path, default: Path) -> Path:
    """Where a conversation's `docs` live: `seed` (or none) is the configured knowledge folder;
    another name is `<name>/docs` beside the question file or one level up."""
    if name in (None, "seed"):
        return default
    for base in (question_file.parent, question_file.parent.parent):
        for candidate in (base / name / "docs", base / name):
            if candidate.is_dir():
                return candidate
    raise QuotebotError(f"cannot find the documents {name!r} named in {question_file}")


def evaluate_conversations(
    conversations: list[ChatConversation], service_for: Callable[[str | None], Conversant]
) -> ChatReport:
    report = ChatReport()
    for chat in conversations:
        service = service_for(chat.docs)
        conversation = Conversation()
        for turn in chat.turns:
            answer, conversation = service.converse(conversation, turn.question)
            alone = service.ask(turn.question)
            report.by_kind.setdefault(turn.kind, KindScore()).add(answer, alone, turn.answers)
    return report
