"""Say each skipped file's warning once per change of the file, not before every question.

An update reports every file it does not index (`UpdateReport.problems`, each with an identity:
the file's hash, or its inode, size, times and mode). What was said is remembered per source as a
digest of the message and that identity, in a small JSON file beside the index (`warned.json` in
the files store's folder) or, for a store without a local folder, for the life of the process. A
new problem, or the same file changed, is said again; a problem that went away is forgotten, so
it is said again if it comes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path

from bot.ingest.documents import Problem
from bot.shared.atomic_write import write_atomically

FILE_NAME = "warned.json"
_FORMAT = 1


class WarnedFiles:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._said: dict[str, str] | None = None if path is not None else {}

    def fresh(self, problems: Iterable[Problem]) -> list[str]:
        """The messages of `problems` not said before for the same file in the same state; the
        whole list becomes what has been said. Never raises for a state file it cannot use."""
        with self._lock:
            said = self._load()
            now = {problem.source: _digest(problem) for problem in problems}
            new = [p.message for p in problems if said.get(p.source) != now[p.source]]
            if now != said:
                self._save(now)
            self._said = now
            return new

    def _load(self) -> dict[str, str]:
        if self._said is not None:
            return self._said
        assert self._path is not None
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            said = data["said"] if data.get("format") == _FORMAT else {}
            return {str(k): str(v) for k, v in said.items()}
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            return {}  # none yet, or unusable: warnings are said again, nothing else is lost

    def _save(self, said: dict[str, str]) -> None:
        if self._path is None or not self._path.parent.is_dir():
            return
        payload = json.dumps({"format": _FORMAT, "said": said}, ensure_ascii=False, indent=0)
        # a read-only index still answers; its warnings are then said again next time
        with contextlib.suppress(OSError):
            write_atomically(self._path, payload)


def _digest(problem: Problem) -> str:
    return hashlib.sha256(f"{problem.message}\0{problem.identity}".encode()).hexdigest()[:32]
