"""Score a question set (format: shared/eval/README.md) against the service."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.answering.compose import Answer, Quote
from bot.errors import QuotebotError
from bot.shared.text import normalize_for_matching


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    question: str
    answers: tuple[str, ...]
    docs: str | None = (
        None  # which knowledge it is about (shared/eval/README.md); None: the default
    )

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True, slots=True)
class EvalReport:
    answerable: int
    off_topic: int
    hit_at_1: float
    hit_at_3: float
    mrr_at_10: float
    off_topic_declined: float  # share of unanswerable (off-topic or near-domain) questions declined
    wrongly_declined: float  # share of answerable questions declined
    mean_quote_chars: float  # mean length of the top quote, over answered questions
    misses: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if k != "misses"}


class Answerer(Protocol):
    def ask(self, question: str) -> Answer: ...

    def ranked_quotes(self, question: str, k: int = 10) -> list[Quote]: ...


def load_questions(path: Path) -> list[EvalQuestion]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuotebotError(f"cannot read question set {path}: {exc}") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            docs = row.get("docs")
            questions.append(
                EvalQuestion(
                    str(row["question"]),
                    tuple(map(str, row["answers"])),
                    None if docs is None else str(docs),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise QuotebotError(f"{path}:{number}: not a question record ({exc})") from None
    if not questions:
        raise QuotebotError(f"{path} holds no questions")
    return questions


def by_docs(questions: list[EvalQuestion]) -> dict[str | None, list[EvalQuestion]]:
    """The questions grouped by the knowledge they are about, in order of first appearance."""
    groups: dict[str | None, list[EvalQuestion]] = {}
    for q in questions:
        groups.setdefault(q.docs, []).append(q)
    return groups


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    haystack = normalize_for_matching(text).lower()
    return any(normalize_for_matching(a).lower() in haystack for a in answers)


def evaluate(service: Answerer, questions: list[EvalQuestion]) -> EvalReport:
    answerable = [q for q in questions if q.answerable]
    off_topic = [q for q in questions if not q.answerable]
    hits1 = hits3 = reciprocal = wrongly_declined = 0.0
    quote_lengths: list[int] = []
    misses: list[str] = []
    for q in answerable:
        answer = service.ask(q.question)
        if answer.declined:
            wrongly_declined += 1
            misses.append(f"declined: {q.question}")
            continue
        found = [contains_answer(quote.text, q.answers) for quote in answer.quotes]
        hits1 += found[0]
        hits3 += any(found[:3])
        quote_lengths.append(len(answer.quotes[0].text))
        if not found[0]:
            misses.append(f"miss@1: {q.question}")
        for rank, quote in enumerate(service.ranked_quotes(q.question, 10), start=1):
            if contains_answer(quote.text, q.answers):
                reciprocal += 1 / rank
                break
    declined = sum(service.ask(q.question).declined for q in off_topic)
    n = max(len(answerable), 1)
    return EvalReport(
        answerable=len(answerable),
        off_topic=len(off_topic),
        hit_at_1=round(hits1 / n, 4),
        hit_at_3=round(hits3 / n, 4),
        mrr_at_10=round(reciprocal / n, 4),
        off_topic_declined=round(declined / len(off_topic), 4) if off_topic else 1.0,
        wrongly_declined=round(wrongly_declined / n, 4),
        mean_quote_chars=round(sum(quote_lengths) / len(quote_lengths), 1) if quote_lengths else 0,
        misses=tuple(misses),
    )
