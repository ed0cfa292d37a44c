"""What noticing stale answers (issue 18) costs the Discord bot when an update lands, and what
its generation poll costs between updates.

* scan: the work of `StaleDesk.on_generations` minus Discord: read the tracked answers from the
  SQLite store (`posted_since`), decide for each whether the new generation made one of its shown
  quotes stale (`newly_stale`), and queue the edits; for N answers quoting passages of 200
  documents, one update that edited passages of 5 of them.
* poll: `QuoteService.serve_latest` on a files store of D documents when nothing changed (what
  the bot does every `generation_poll_seconds`).

    python -m bench.stale_scan [--answers 1000 10000] [--documents 100 1000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation, Turn
from bot.answering.stale import newly_stale, quoted_spans
from bot.config import load_settings
from bot.discord.answer_store import AnswerRecord, ChatStore
from bot.discord.stale_queue import StaleEdit, StaleQueue
from bot.index.changelog import ChangeEntry, DocumentChange, PassageChange, Span
from bot.shared.sqlite_db import Database
from tests.fakes import FakeEmbedder

PASSAGE = 250
DOCUMENTS = 200


def _quote(rng: random.Random) -> Quote:
    doc, n = rng.randrange(DOCUMENTS), rng.randrange(20)
    start = n * PASSAGE
    text = f"passage {n} of document {doc} " * 9
    return Quote(f"doc{doc}.txt", start, start + len(text), text, None, 0.5, n + 1)


def _entry(rng: random.Random) -> ChangeEntry:
    documents = []
    for doc in rng.sample(range(DOCUMENTS), 5):
        changes = []
        for n in rng.sample(range(20), 3):
            old = Span(n * PASSAGE, n * PASSAGE + 200, f"passage {n} of document {doc} " * 9)
            changes.append(PassageChange("changed", old, Span(old.start, old.end, "new text")))
        documents.append(DocumentChange(f"doc{doc}.txt", "edited", tuple(changes)))
    return ChangeEntry(2, "2026-12-03T00:00:00+00:00", tuple(documents))


def scan(answers: int, repeats: int = 5) -> dict[str, Any]:
    rng = random.Random(answers)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(Path(tmp) / "feedback.sqlite3")
        store = ChatStore(database, 7 * 86400, time.time, 14 * 86400)
        queue = StaleQueue(database, time.time)
        for i in range(answers):
            quotes = tuple(_quote(rng) for _ in range(3))
            answer = Answer(f"question {i}?", quotes, False, generation=1)
            turn = Turn(answer.question, answer.question, quotes, ())
            store.save(
                AnswerRecord(f"{i:016x}", "u", 7, answer, Conversation((turn,)), time.time())
            )
            store.attach_message(f"{i:016x}", 10_000 + i)
        entries = [_entry(rng)]
        read, decide, marked = [], [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            posted = store.posted_since(time.time() - 14 * 86400)
            read.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            edits = []
            for message_id, record in posted:
                quotes = quoted_spans(record.answer.quotes[:3])
                stale = newly_stale(1, quotes, entries, 1, 2)
                if stale is not None:
                    edits.append(StaleEdit(message_id, 2, 7, record.answer_id, stale))
            decide.append((time.perf_counter() - start) * 1e3)
            marked = len(edits)
        start = time.perf_counter()
        queue.add(edits)
        queued = (time.perf_counter() - start) * 1e3
        database.close()
    return {
        "answers": answers,
        "read_ms": statistics.median(read),
        "decide_ms": statistics.median(decide),
        "queue_ms": queued,
        "marked": marked,
    }


def poll(documents: int, repeats: int = 50) -> dict[str, Any]:
    from bot.cli import compose_service

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kb"
        folder.mkdir()
        for i in range(documents):
            (folder / f"doc{i}.txt").write_text(f"Document {i} says a few words.\n", "utf-8")
        overrides = {"knowledge": {"path": folder}, "index": {"dir": Path(tmp) / "idx"}}
        service = compose_service(
            load_settings(None, overrides), embedder=FakeEmbedder(), on_notice=lambda m: None
        )
        service.refresh()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            service.serve_latest()
            times.append((time.perf_counter() - start) * 1e3)
    return {"documents": documents, "poll_ms_median": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--documents", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {
        "scan": [scan(n) for n in args.answers],
        "poll": [poll(n) for n in args.documents],
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
