"""Keep a service's index current while it serves: watch the knowledge folder, update in the
background, swap the new generation in.

Two threads, so that no change is lost while an update runs: a listener that only turns filesystem
events into "something changed", and a worker that waits until the folder has been quiet for a
moment (a burst of saves becomes one update) and then calls `refresh()`. The service swaps the new
index in with one reference assignment, so questions never wait for, or see half of, an update.

Surface-agnostic: callbacks run on the worker thread. An asyncio surface (the Discord bot) should
hand them to its loop, e.g. `on_update=lambda r: loop.call_soon_threadsafe(announce, r)`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bot.errors import QuotebotError
from bot.index.update import UpdateReport
from bot.ingest.documents import SUFFIXES

log = logging.getLogger(__name__)

# Yields one item per batch of filesystem changes under the folder until the event is set.
ChangeSource = Callable[[Path, threading.Event], Iterable[object]]


class Refreshable(Protocol):
    """What the watcher needs from the service (QuoteService satisfies it)."""

    @property
    def knowledge(self) -> Path: ...

    def refresh(self) -> UpdateReport: ...


def is_relevant(path: str, folder: Path) -> bool:
    """A change that may alter the index: a document, or a folder (renamed or deleted folders
    report only their own path). Hidden files and editors' swap files are not documents."""
    candidate = Path(path)
    try:
        parts = candidate.relative_to(folder).parts
    except ValueError:
        return False
    if any(part.startswith(".") for part in parts):
        return False
    if candidate.name.lower().endswith(".meta.toml"):  # a citation sidecar (issue 8)
        return True
    return candidate.suffix.lower() in SUFFIXES or candidate.suffix == ""


def watchfiles_source(folder: Path, stop: threading.Event) -> Iterable[object]:
    """Filesystem events from watchfiles (inotify, FSEvents, ... or polling where those fail)."""
    from watchfiles import DefaultFilter, watch

    default = DefaultFilter()
    root = folder.resolve()

    def wanted(change: object, path: str) -> bool:
        return default(change, path) and is_relevant(path, root)  # type: ignore[arg-type]

    return watch(root, watch_filter=wanted, stop_event=stop, raise_interrupt=False)


class Watcher:
    """Watches `service.knowledge` and refreshes the service after each burst of changes.

    `start()` also schedules one update, so edits made before the watch began are picked up.
    Errors (disk full, another writer holding the lock too long, a folder emptied) are reported
    through `on_error` once per failed update; the previous generation keeps being served and
    the next change tries again.
    """

    def __init__(
        self,
        service: Refreshable,
        *,
        on_update: Callable[[UpdateReport], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        quiet_seconds: float = 0.3,
        max_delay_seconds: float = 5.0,
        source: ChangeSource = watchfiles_source,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._on_update = on_update
        self._on_error = on_error
        self._quiet = quiet_seconds
        self._max_delay = max_delay_seconds
        self._source = source
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._first_change: float | None = None  # pending changes since (None: nothing pending)
        self._last_change = 0.0
        self._threads: list[threading.Thread] = []
        self.updates = 0  # refreshes that ran (changed or not); for tests and status lines

    def start(self) -> Watcher:
        if self._threads:
            raise RuntimeError("the watcher is already running")
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._listen, name="quotebot-watch", daemon=True),
            threading.Thread(target=self._work, name="quotebot-update", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.changed()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; waits up to `timeout` for an update in progress to commit."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def changed(self) -> None:
        """Note that the folder changed; an update follows once it has been quiet."""
        with self._wake:
            now = self._clock()
            if self._first_change is None:
                self._first_change = now
            self._last_change = now
            self._wake.notify_all()

    # -- threads -------------------------------------------------------------------------------

    def _listen(self) -> None:
        try:
            for _ in self._source(self._service.knowledge, self._stop):
                if self._stop.is_set():
                    return
                self.changed()
        except Exception as exc:  # the watch itself failed (folder gone, too many watches)
            if not self._stop.is_set():
                self._report_error(f"stopped watching {self._service.knowledge}: {exc}")

    def _work(self) -> None:
        while self._wait_for_quiet():
            self._update()

    def _wait_for_quiet(self) -> bool:
        """Block until changes are pending and the folder has been quiet (or changes have been
        pending for max_delay); False when stopping."""
        with self._wake:
            while not self._stop.is_set():
                if self._first_change is None:
                    self._wake.wait()
                    continue
                now = self._clock()
                due = min(self._last_change + self._quiet, self._first_change + self._max_delay)
                if now >= due:
                    self._first_change = None
                    return True
                self._wake.wait(due - now)
            return False

    def _update(self) -> None:
        try:
            report = self._service.refresh()
        except (QuotebotError, OSError) as exc:
            self._report_error(f"index not updated, still serving the previous version: {exc}")
            return
        except Exception as exc:  # never let the thread die silently: the bot would go stale
            log.exception("index update failed")
            self._report_error(f"index update failed: {type(exc).__name__}: {exc}")
            return
        finally:
            self.updates += 1
        for line in report.notices():
            log.warning("%s", line)
        if report.changed_anything:
            log.info("index updated (generation %d): %s", report.generation, report.summary())
            if self._on_update:
                self._on_update(report)

    def _report_error(self, message: str) -> None:
        log.warning("%s", message)
        if self._on_error:
            self._on_error(message)
