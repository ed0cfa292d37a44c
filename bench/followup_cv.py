"""Choose the follow-up weights by leave-one-document-out cross-validation, report held-out.

    .venv/bin/python bench/followup_cv.py [--extra bench/data/conversations_extra.jsonl] [--json]

Every weight triple (own, earlier questions, last answer) on a 0.1 grid summing to 1 is scored
by replaying the dev conversations through `QuoteService.converse`. Folds are documents: each
conversation belongs to the document its first question is answered from, and a fold holds all
of a document's conversations, so the held-out figure is measured on a document no weight was
chosen on. The weights the service ships are the ones chosen on all dev conversations; the
extra conversations (written separately, never used for choosing) are a second held-out check.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL, ROOT, real_embedder
from bot.answering.conversation import Conversation, FollowUpSettings
from bot.evaluation.conversations import FOLLOW_UP_KINDS, ChatConversation, load_conversations
from bot.evaluation.questions import contains_answer

STEP = 0.1


class CachedEmbedder:
    """The real embedder with a cache: every configuration re-asks the same questions."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.spec, self.cache = inner, inner.spec, {}
        self.dimension = inner.dimension  # the answer judge sizes empty batches by it

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.inner.encode(missing), strict=True))
        return np.stack([self.cache[t] for t in texts])


@dataclass
class Tally:
    turns: int = 0
    hit_at_1: int = 0
    hit_at_3: int = 0

    def add(self, other: Tally) -> None:
        self.turns += other.turns
        self.hit_at_1 += other.hit_at_1
        self.hit_at_3 += other.hit_at_3

    def rates(self) -> dict[str, float]:
        n = max(self.turns, 1)
        return {
            "turns": self.turns,
            "hit_at_1": round(self.hit_at_1 / n, 3),
            "hit_at_3": round(self.hit_at_3 / n, 3),
        }

    @property
    def objective(self) -> float:
        return (self.hit_at_1 + 0.5 * self.hit_at_3) / max(self.turns, 1)


@dataclass
class Services:
    embedder: Any
    by_docs: dict[str, Any] = field(default_factory=dict)

    def get(self, docs: str | None) -> Any:
        from bot.cli import compose_service
        from bot.config import load_settings

        name = docs or "seed"
        if name not in self.by_docs:
            folder = ROOT / "knowledge" if name == "seed" else EVAL / name / "docs"
            settings = load_settings(None, {"knowledge": {"path": folder}})
            service = compose_service(settings, embedder=self.embedder)
            service.refresh()
            self.by_docs[name] = service
        return self.by_docs[name]


def document_of(chat: ChatConversation, services: Services) -> str:
    """The fold a conversation belongs to: the document its first question is answered from."""
    answer = services.get(chat.docs).ask(chat.turns[0].question)
    shown = answer.quotes or answer.related  # a declined first turn still has its nearest passage
    return shown[0].source if shown else f"{chat.docs}:?"


def replay(
    chats: list[ChatConversation], services: Services, settings: FollowUpSettings
) -> list[Tally]:
    """Follow-up hits per conversation under `settings`."""
    tallies = []
    for chat in chats:
        service = services.get(chat.docs)
        service.follow_ups = settings
        conversation, tally = Conversation(), Tally()
        for turn in chat.turns:
            answer, conversation = service.converse(conversation, turn.question)
            if turn.kind not in FOLLOW_UP_KINDS:
                continue
            found = [contains_answer(q.text, turn.answers) for q in answer.quotes]
            tally.add(Tally(1, int(bool(found[:1] and found[0])), int(any(found[:3]))))
        tallies.append(tally)
    return tallies


def standalone_check(services: Services, settings: FollowUpSettings) -> dict[str, Any]:
    """Self-contained questions asked after an unrelated one: squad_dev question i follows
    question i + n/2. Hits with the conversation against the question asked alone (whatever
    the gate lets through as a follow-up is blended with the wrong context here)."""
    from bot.evaluation.questions import load_questions

    questions = [q for q in load_questions(EVAL / "squad_dev" / "questions.jsonl") if q.answers]
    service = services.get("squad_dev")
    service.follow_ups = settings
    in_chat, alone, n = 0, 0, len(questions)
    for i, question in enumerate(questions):
        first = questions[(i + n // 2) % n]
        _, conversation = service.converse(Conversation(), first.question)
        answer, _ = service.converse(conversation, question.question)
        single = service.ask(question.question)
        in_chat += bool(answer.quotes) and contains_answer(answer.quotes[0].text, question.answers)
        alone += bool(single.quotes) and contains_answer(single.quotes[0].text, question.answers)
    return {"turns": n, "hit_at_1": round(in_chat / n, 3), "alone_hit_at_1": round(alone / n, 3)}


def grid() -> list[FollowUpSettings]:
    steps = round(1 / STEP)
    return [
        FollowUpSettings(own / steps, context / steps, (steps - own - context) / steps)
        for own, context in itertools.product(range(steps + 1), repeat=2)
        if own + context <= steps
    ]


def total(tallies: list[Tally], keep: list[bool]) -> Tally:
    out = Tally()
    for tally, kept in zip(tallies, keep, strict=True):
        if kept:
            out.add(tally)
    return out


def best(scored: dict[FollowUpSettings, list[Tally]], keep: list[bool]) -> FollowUpSettings:
    """Highest hit@1 + hit@3/2 on the kept conversations; ties go to more weight on the
    follow-up's own words, then on the earlier questions (the plainer choice)."""
    return max(
        scored,
        key=lambda s: (
            round(total(scored[s], keep).objective, 9),
            s.own_weight,
            s.context_weight,
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=EVAL / "conversations" / "dev.jsonl")
    parser.add_argument("--extra", type=Path, default=ROOT / "bench/data/conversations_extra.jsonl")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    services = Services(CachedEmbedder(real_embedder()))
    chats = load_conversations(args.dev)
    folds = [document_of(chat, services) for chat in chats]
    scored = {settings: replay(chats, services, settings) for settings in grid()}
    report: dict[str, Any] = {"folds": {}, "grid": len(scored)}
    held_out = Tally()
    for document in sorted(set(folds)):
        train = [fold != document for fold in folds]
        chosen = best(scored, train)
        held = total(scored[chosen], [not t for t in train])
        held_out.add(held)
        report["folds"][document] = {
            "chosen": asdict(chosen),
            "held_out": held.rates(),
            "in_sample": total(scored[chosen], train).rates(),
        }
    everything = [True] * len(chats)
    shipped = best(scored, everything)
    report["held_out"] = held_out.rates()
    report["chosen_on_all"] = asdict(shipped)
    report["in_sample"] = total(scored[shipped], everything).rates()
    default = FollowUpSettings()
    report["default"] = asdict(default)
    report["default_in_sample"] = total(
        scored.get(default) or replay(chats, services, default), everything
    ).rates()
    if args.extra.is_file():
        extra = load_conversations(args.extra)
        report["extra"] = total(replay(extra, services, default), [True] * len(extra)).rates()
    report["standalone_after_unrelated"] = standalone_check(services, default)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
