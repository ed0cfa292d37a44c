"""Votes on answers (Discord 👍/👎, REPL :good/:bad), kept so they can become evaluation data.

Each vote rates the top quote of one answer: it stores the question, the earlier questions the
answer drew on, the quote shown (source, offsets, text), +1 or -1, a salted hash of who voted and
when. One vote per person per answer: voting again replaces the earlier vote.

Who voted is stored only as `sha256(salt:surface:user id)`. Discord user ids are public, so a
plain hash could be reversed by hashing the ids of a server's members; the salt is random per
database (kept in its `meta` table), so hashes from different databases cannot be joined and the
export (which holds no user data at all) cannot be traced back. Someone holding the database file
and a candidate id can still test it: the hash lets the bot recognise a repeated vote, it is not
anonymisation.

`export` writes the evaluation format of shared/eval/README.md: one line per question (with its
earlier questions) that got at least one 👍, `"answers"` = the texts of the quotes voted up. A 👎
is a known miss, not a right answer, so it goes into an extra `"wrong"` key, which `quotebot
eval` ignores. A question with only 👎 votes is left out: it has no known right answer, and
writing it with empty `"answers"` would tell `eval` the question is off-topic (expected to be
declined), which a 👎 does not say. `export` reports how many it left out.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.answering.compose import Answer
from bot.errors import QuotebotError
from bot.shared.atomic_write import write_atomically
from bot.shared.sqlite_db import Database

UP, DOWN = 1, -1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    answer_id TEXT NOT NULL,
    user_hash TEXT NOT NULL,
    surface TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    question TEXT NOT NULL,
    context TEXT NOT NULL,
    source TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    quote TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (answer_id, user_hash)
);
"""


@dataclass(frozen=True, slots=True)
class Vote:
    answer_id: str
    user_hash: str
    surface: str  # "discord" or "repl"
    vote: int  # UP or DOWN
    question: str
    context: tuple[str, ...]  # earlier questions the answer drew on
    source: str
    start: int
    end: int
    quote: str  # == document_text[start:end]
    created_at: str  # ISO 8601, UTC

    @classmethod
    def on(
        cls,
        answer: Answer,
        *,
        answer_id: str,
        user_hash: str,
        surface: str,
        vote: int,
        now: datetime,
    ) -> Vote:
        """A vote on `answer`'s top quote; the answer must have one."""
        if not answer.quotes:
            raise QuotebotError("there is no quote to rate")
        top = answer.quotes[0]
        return cls(
            answer_id,
            user_hash,
            surface,
            vote,
            answer.question,
            answer.context,
            top.source,
            top.start,
            top.end,
            top.text,
            now.astimezone(UTC).isoformat(),
        )


@dataclass(frozen=True, slots=True)
class SourceStats:
    source: str
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class Stats:
    up: int
    down: int
    questions: int
    by_source: tuple[SourceStats, ...]
    by_surface: dict[str, int]

    @property
    def total(self) -> int:
        return self.up + self.down

    @property
    def share_positive(self) -> float | None:
        return round(self.up / self.total, 4) if self.total else None

    def to_json(self) -> dict[str, Any]:
        return {
            "votes": self.total,
            "up": self.up,
            "down": self.down,
            "share_positive": self.share_positive,
            "questions": self.questions,
            "by_source": [{"source": s.source, "up": s.up, "down": s.down} for s in self.by_source],
            "by_surface": self.by_surface,
        }


@dataclass(frozen=True, slots=True)
class ExportReport:
    written: int  # lines written (questions with at least one 👍)
    left_out: int  # questions with only 👎 votes


class FeedbackStore:
    """The votes table of the feedback database."""

    def __init__(self, database: Database, now: Callable[[], datetime] | None = None) -> None:
        self.database = database
        self._now = now or (lambda: datetime.now(UTC))
        with database.transaction() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
        with database.reading() as db:
            self._salt = str(db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0])

    @classmethod
    def open(cls, path: Path | str) -> FeedbackStore:
        return cls(Database(path))

    def user_hash(self, surface: str, user_id: int | str) -> str:
        return hashlib.sha256(f"{self._salt}:{surface}:{user_id}".encode()).hexdigest()

    def now(self) -> datetime:
        return self._now()

    def record(self, vote: Vote) -> None:
        """Store `vote` (replacing that person's earlier vote on the same answer); returns only
        once it is committed, so acknowledging it afterwards is honest."""
        with self.database.transaction() as db:
            db.execute(
                """INSERT INTO votes (answer_id, user_hash, surface, vote, question, context,
                                      source, start, "end", quote, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (answer_id, user_hash) DO UPDATE SET
                       vote = excluded.vote, created_at = excluded.created_at""",
                (
                    vote.answer_id,
                    vote.user_hash,
                    vote.surface,
                    vote.vote,
                    vote.question,
                    json.dumps(list(vote.context), ensure_ascii=False),
                    vote.source,
                    vote.start,
                    vote.end,
                    vote.quote,
                    vote.created_at,
                ),
            )

    def votes(self) -> list[Vote]:
        with self.database.reading() as db:
            rows = db.execute(
                """SELECT answer_id, user_hash, surface, vote, question, context, source, start,
                          "end", quote, created_at FROM votes ORDER BY id"""
            ).fetchall()
        return [
            Vote(r[0], r[1], r[2], int(r[3]), r[4], tuple(json.loads(r[5])), *r[6:]) for r in rows
        ]

    def stats(self) -> Stats:
        votes = self.votes()
        per_source: dict[str, list[int]] = {}
        per_surface: dict[str, int] = {}
        for v in votes:
            counts = per_source.setdefault(v.source, [0, 0])
            counts[0 if v.vote == UP else 1] += 1
            per_surface[v.surface] = per_surface.get(v.surface, 0) + 1
        return Stats(
            up=sum(v.vote == UP for v in votes),
            down=sum(v.vote == DOWN for v in votes),
            questions=len({(v.question, v.context) for v in votes}),
            by_source=tuple(
                SourceStats(source, up, down)
                for source, (up, down) in sorted(per_source.items(), key=lambda kv: -sum(kv[1]))
            ),
            by_surface=dict(sorted(per_surface.items())),
        )

    def export(self, path: Path) -> ExportReport:
        """Write the votes as an evaluation set (see the module docstring); atomic."""
        lines = export_lines(self.votes())
        left_out = len({(v.question, v.context) for v in self.votes()}) - len(lines)
        write_atomically(
            path, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        )
        return ExportReport(len(lines), left_out)


def export_lines(votes: list[Vote]) -> list[dict[str, Any]]:
    """One evaluation record per (question, earlier questions) with at least one 👍."""
    groups: dict[tuple[str, tuple[str, ...]], tuple[list[str], list[str]]] = {}
    for v in votes:
        right, wrong = groups.setdefault((v.question, v.context), ([], []))
        (right if v.vote == UP else wrong).append(v.quote)
    lines = []
    for (question, context), (right, wrong) in groups.items():
        if not right:
            continue
        line: dict[str, Any] = {"question": question, "answers": list(dict.fromkeys(right))}
        wrong = [q for q in dict.fromkeys(wrong) if q not in right]
        if wrong:
            line["wrong"] = wrong
        if context:
            line["context"] = list(context)
        lines.append(line)
    return lines
