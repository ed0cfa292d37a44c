"""The changelog the index writer keeps: what each landed generation changed, document by document
and passage by passage, with the old passages' text (their generation is deleted later, and a
change must still be quotable).

Entries are plain data written by the store inside the generation they describe (a files store
generation folder, a PostgreSQL transaction), so an update that does not land records nothing.
Their size is bounded by `Retention`. The diff that produces them lives in index/diff.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.errors import ChangesSinceError
from bot.shared.wording import plural

PassageKind = Literal["added", "removed", "changed"]
DocumentKind = Literal["added", "removed", "edited", "renamed"]


@dataclass(frozen=True, slots=True)
class Span:
    """A passage in one version of a document: `text == that_version[start:end]`."""

    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Span | None:
        if data is None:
            return None
        return cls(int(data["start"]), int(data["end"]), str(data["text"]))


@dataclass(frozen=True, slots=True)
class PassageChange:
    """`changed` has both spans (the old passage and the similar one that replaced it);
    `removed` only `old`, `added` only `new`."""

    kind: PassageKind
    old: Span | None
    new: Span | None

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.kind,
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PassageChange:
        kind = str(data["change"])
        if kind not in ("added", "removed", "changed"):
            raise ValueError(f"unknown passage change {kind!r}")
        return cls(kind, Span.from_json(data["old"]), Span.from_json(data["new"]))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class DocumentChange:
    """One document's change. Passages are listed for edited documents only: an added or removed
    document is wholly new or gone (`passages_before` / `passages_after` count its passages)."""

    source: str
    kind: DocumentKind
    passages: tuple[PassageChange, ...] = ()
    renamed_from: str | None = None
    passages_before: int = 0
    passages_after: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "change": self.kind,
            "renamed_from": self.renamed_from,
            "passages_before": self.passages_before,
            "passages_after": self.passages_after,
            "passages": [p.to_json() for p in self.passages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentChange:
        kind = str(data["change"])
        if kind not in ("added", "removed", "edited", "renamed"):
            raise ValueError(f"unknown document change {kind!r}")
        return cls(
            str(data["source"]),
            kind,  # type: ignore[arg-type]
            tuple(PassageChange.from_json(p) for p in data.get("passages", ())),
            data.get("renamed_from"),
            int(data.get("passages_before", 0)),
            int(data.get("passages_after", 0)),
        )


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """What generation `generation` changed, recorded when it landed (`time`, ISO 8601 UTC)."""

    generation: int
    time: str
    documents: tuple[DocumentChange, ...]
    note: str | None = None  # e.g. why everything was rebuilt

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "time": self.time,
            "note": self.note,
            "documents": [d.to_json() for d in self.documents],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeEntry:
        return cls(
            int(data["generation"]),
            str(data["time"]),
            tuple(DocumentChange.from_json(d) for d in data["documents"]),
            data.get("note"),
        )

    @property
    def moment(self) -> datetime:
        return parse_time(self.time)


@dataclass(frozen=True, slots=True)
class Retention:
    """How much changelog a store keeps: entries younger than `days` (counted back from the
    newest entry, so a clock is not needed to prune), at most `max_entries` of them."""

    days: float = 90.0
    max_entries: int = 1000

    def prune(self, entries: Sequence[ChangeEntry]) -> list[ChangeEntry]:
        """Oldest first, the newest always kept."""
        ordered = sorted(entries, key=lambda e: e.generation)
        if not ordered:
            return []
        horizon = ordered[-1].moment - timedelta(days=self.days)
        kept = [e for e in ordered if e.moment >= horizon]
        return kept[-max(self.max_entries, 1) :]


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Since:
    """Entries after `generation`, or recorded at or after `time` (None: everything kept)."""

    generation: int | None = None
    time: datetime | None = None

    def admits(self, entry: ChangeEntry) -> bool:
        if self.generation is not None:
            return entry.generation > self.generation
        if self.time is not None:
            return entry.moment >= self.time
        return True

    def to_json(self) -> dict[str, Any] | None:
        if self.generation is not None:
            return {"generation": self.generation}
        if self.time is not None:
            return {"time": self.time.isoformat(timespec="seconds")}
        return None


_DURATION = re.compile(r"(\d+)\s*([hdw])", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(text: str | None, now: datetime) -> Since:
    """`7` (after generation 7), `2026-12-01` / an ISO date-time (UTC unless it says), or a
    duration back from `now`: `12h`, `3d`, `2w`."""
    if text is None or not text.strip():
        return Since()
    value = text.strip()
    if value.isdigit():
        return Since(generation=int(value))
    duration = _DURATION.fullmatch(value)
    if duration:
        return Since(time=now - int(duration.group(1)) * _UNITS[duration.group(2).lower()])
    try:
        return Since(time=parse_time(value))
    except ValueError:
        raise ChangesSinceError(
            f"cannot read {value[:40]!r} as a starting point: give a generation number (7), "
            "a date (2026-12-01) or a duration back from now (12h, 3d, 2w)"
        ) from None


def select(entries: Sequence[ChangeEntry], since: Since) -> list[ChangeEntry]:
    return [e for e in sorted(entries, key=lambda e: e.generation) if since.admits(e)]


def last_changed(entries: Sequence[ChangeEntry]) -> dict[str, str]:
    """Source -> time of the newest entry that changed it (added, edited, renamed to it)."""
    found: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.generation):
        for document in entry.documents:
            if document.kind != "removed":
                found[document.source] = entry.time
    return found


def entries_to_json(entries: Sequence[ChangeEntry]) -> list[dict[str, Any]]:
    return [e.to_json() for e in entries]


def entries_from_json(rows: Sequence[dict[str, Any]]) -> list[ChangeEntry]:
    return [ChangeEntry.from_json(row) for row in rows]


# -- in words, for every surface (the terminal's `changes`, Discord's /changes pages) ------------


def when(entry: ChangeEntry) -> str:
    return entry.moment.strftime("%Y-%m-%d %H:%M UTC")


def document_summary(document: DocumentChange, name: Callable[[str], str] = str) -> str:
    """`edited: 1 changed, 2 added`, `removed (3 passages)`, `renamed from old.txt` (the old
    name passed through `name`, e.g. to shorten it for Discord)."""
    if document.kind == "added":
        return f"added ({plural(document.passages_after, 'passage')})"
    if document.kind == "removed":
        return f"removed ({plural(document.passages_before, 'passage')})"
    if document.kind == "renamed":
        return f"renamed from {name(document.renamed_from or '')}"
    counts = {kind: 0 for kind in ("changed", "added", "removed")}
    for passage in document.passages:
        counts[passage.kind] += 1
    return "edited: " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
