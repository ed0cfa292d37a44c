"""Answers, quotes and conversations as JSON state, and back: what outlives the process (Discord's
answer buttons, followed questions in the REPL and on Discord, stale marks).

Beside the answer types rather than in a surface, because both surfaces and the feedback part keep
answers; the citation details travel too, so an answer re-rendered later looks the same.
"""

from __future__ import annotations

from typing import Any

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation, Turn

_CITATION = ("title", "date", "url", "page", "section", "author")


def quote_to_state(q: Quote) -> dict[str, Any]:
    return {
        "source": q.source,
        "start": q.start,
        "end": q.end,
        "text": q.text,
        "highlight": list(q.highlight) if q.highlight else None,
        "score": q.score,
        "paragraph": q.paragraph,
        # citation details, so an answer re-rendered later (stale marks, issue 18) looks the same
        **{key: getattr(q, key) for key in _CITATION if getattr(q, key) is not None},
    }


def quote_from_state(d: dict[str, Any]) -> Quote:
    highlight = d["highlight"]
    return Quote(
        d["source"],
        int(d["start"]),
        int(d["end"]),
        d["text"],
        (int(highlight[0]), int(highlight[1])) if highlight else None,
        float(d["score"]),
        int(d["paragraph"]),
        **{key: d[key] for key in _CITATION if d.get(key) is not None},
    )


def answer_to_state(a: Answer) -> dict[str, Any]:
    return {
        "question": a.question,
        "quotes": [quote_to_state(q) for q in a.quotes],
        "declined": a.declined,
        "message": a.message,
        "context": list(a.context),
        "generation": a.generation,
    }


def answer_from_state(d: dict[str, Any]) -> Answer:
    return Answer(
        d["question"],
        tuple(quote_from_state(q) for q in d["quotes"]),
        bool(d["declined"]),
        d["message"],
        tuple(d["context"]),
        d["generation"],
    )


def conversation_to_state(c: Conversation) -> list[dict[str, Any]]:
    return [
        {
            "question": t.question,
            "query": t.query,
            "quotes": [quote_to_state(q) for q in t.quotes],
            "used_context": list(t.used_context),
            "declined": t.declined,
        }
        for t in c.turns
    ]


def conversation_from_state(turns: list[dict[str, Any]]) -> Conversation:
    return Conversation(
        tuple(
            Turn(
                t["question"],
                t["query"],
                tuple(quote_from_state(q) for q in t["quotes"]),
                tuple(t["used_context"]),
                bool(t.get("declined", False)),  # absent in state saved before it existed
            )
            for t in turns
        )
    )
