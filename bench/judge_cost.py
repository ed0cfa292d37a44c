"""What the answer judge (issue 14) costs per question, and what batching its encoder calls saves.

In one process, over the squad_dev articles with the bundled model and the ONNX question runtime:

* pieces: for the passages each answer shows (quotes, related), embedding their sentences and words one
  text per encoder call (the judge before batching) against one call per passage and kind (now);
* ask: a whole `QuoteService.answer` with a new judge (nothing cached: a process's first
  question), the first time in a running process (the questions in order, one judge: words of
  earlier passages known, the passages mostly new) and again with everything cached.

    python -m bench.judge_cost [--questions 60] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import CACHE, EVAL, settings_for, summary


def _ms(call: Any, *args: Any) -> float:
    start = time.perf_counter()
    call(*args)
    return (time.perf_counter() - start) * 1e3


def measure(count: int) -> dict[str, Any]:
    from bot.answering.judge import PassageJudge, _sentences
    from bot.answering.signals import passage_words
    from bot.cli import compose_service
    from bot.embedding.questions import QuestionEmbedder

    knowledge = EVAL / "squad_dev" / "docs"
    settings = settings_for(knowledge, CACHE / "judge-index", embedding={"threads": 1})
    service = compose_service(settings)
    service.writes_index = True
    service.refresh()
    service.prepare_questions()
    embedder = service.embedder
    assert isinstance(embedder, QuestionEmbedder), "no question runtime"
    lines = (EVAL / "squad_dev" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines[:count]]

    one_each: list[float] = []
    batched: list[float] = []
    cold: list[float] = []
    first_sight: list[float] = []
    cached: list[float] = []
    running = service.judge
    for question in questions:
        first_sight.append(_ms(service.answer, question))
        cached.append(_ms(service.answer, question))
        service.judge = PassageJudge(embedder)
        cold.append(_ms(service.answer, question))
        service.judge = running
        answer, _ = service.answer(question)
        texts = [quote.text for quote in (*answer.quotes, *answer.related)]
        pieces = [p for text in texts for p in (_sentences(text), passage_words(text)) if p]
        texts_one_by_one = [text for piece in pieces for text in piece]
        one_each.append(
            _ms(lambda texts: [embedder.encode_question(t) for t in texts], texts_one_by_one)
        )
        batched.append(_ms(lambda ps: [embedder.encode_questions(p) for p in ps], pieces))
    return {
        "questions": len(questions),
        "pieces_one_call_each_ms": summary(one_each),
        "pieces_batched_ms": summary(batched),
        "ask_new_judge_ms": summary(cold),
        "ask_first_sight_ms": summary(first_sight),
        "ask_cached_ms": summary(cached),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = measure(args.questions)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
