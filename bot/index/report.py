"""What an index update did (`UpdateReport`): the result type every surface shows.

Its own module so that the renderers and the watcher can name the result without importing the
update pipeline (bot.index.update pulls in numpy, the chunker and the diff)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.ingest.folder_walk import Problem
from bot.shared.wording import plural


@dataclass(frozen=True, slots=True)
class UpdateReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    warnings: list[str] = field(default_factory=list)
    rebuild_reason: str | None = None
    generation: int = 0  # the generation now served
    interrupted: str | None = None  # a killed previous update whose work this one redid
    # Every file not indexed now, with its identity; `warnings` are their messages (a surface
    # may narrow them to those not said before, see bot.ingest.skip_warnings).
    problems: tuple[Problem, ...] = ()

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def notices(self) -> list[str]:
        """What a user should read, one line each: a rebuild (and why) first, then warnings."""
        rebuild = [f"{self.rebuild_reason}: re-embedding everything"] if self.rebuild_reason else []
        interrupted = [self.interrupted] if self.interrupted else []
        return rebuild + interrupted + self.warnings

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "chunks_embedded": self.chunks_embedded,
            "chunks_total": self.chunks_total,
        }

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} "
            f"removed, {len(self.unchanged)} unchanged; {plural(self.chunks_embedded, 'chunk')} "
            f"embedded, {self.chunks_total} in the index"
        )
