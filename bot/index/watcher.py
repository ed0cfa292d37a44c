"""Keep a service's index current while it serves: watch the knowledge folder, update in the
background, swap the new generation in.

One thread over watchfiles' own debouncing: `watch(step=quiet, debounce=max_delay)` gathers a
burst of saves into one set of changes (yielded once the folder has been quiet for `quiet`
seconds, or after `max_delay` of constant churn), and the thread calls `refresh()` for each set.
Changes made while an update runs are kept by watchfiles and yielded next, so none is lost. The
service swaps the new index in with one reference assignment, so questions never wait for, or
see half of, an update.

Surface-agnostic: callbacks run on the watcher's thread. An asyncio surface (the Discord bot)
should hand them to its loop, e.g. `on_update=lambda r: loop.call_soon_threadsafe(announce, r)`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bot.errors import QuotebotError
from bot.index.report import UpdateReport
from bot.ingest.documents import SUFFIXES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Debounce:
    """How changes are gathered into one update: after `quiet_seconds` without a new change, or
    after `max_delay_seconds` of constant churn."""

    quiet_seconds: float = 0.3
    max_delay_seconds: float = 5.0


# Yields one collection of changes per burst (gathered as `Debounce` says), and an empty one when
# `quiet_seconds` pass without a change, until the event is set. The first item, empty or not,
# tells that the watch is set up: the watcher's start-up update runs then.
ChangeSource = Callable[[Path, threading.Event, Debounce], Iterable[Collection[object]]]


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


def watchfiles_source(
    folder: Path, stop: threading.Event, debounce: Debounce
) -> Iterable[Collection[object]]:
    """Filesystem events from watchfiles (inotify, FSEvents, ... or polling where those fail),
    gathered by its own debounce; it checks `stop` every `quiet_seconds`."""
    from watchfiles import DefaultFilter, watch

    default = DefaultFilter()
    root = folder.resolve()

    def wanted(change: object, path: str) -> bool:
        return default(change, path) and is_relevant(path, root)  # type: ignore[arg-type]

    quiet_ms = max(1, round(debounce.quiet_seconds * 1000))
    return watch(
        root,
        watch_filter=wanted,
        debounce=max(1, round(debounce.max_delay_seconds * 1000)),
        step=quiet_ms,
        rust_timeout=quiet_ms,
        yield_on_timeout=True,
        stop_event=stop,
        raise_interrupt=False,
    )


class Watcher:
    """Watches `service.knowledge` and refreshes the service after each burst of changes.

    `start()` also schedules one update (once the watch is set up), so edits made before the
    watch began are picked up. Errors (disk full, another writer holding the lock too long, a
    folder emptied) are reported through `on_error` once per failed update; the previous
    generation keeps being served and the next change tries again.
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
    ) -> None:
        self._service = service
        self._on_update = on_update
        self._on_error = on_error
        self._debounce = Debounce(quiet_seconds, max_delay_seconds)
        self._source = source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.updates = 0  # refreshes that ran (changed or not); for tests and status lines

    def start(self) -> Watcher:
        if self._thread is not None:
            raise RuntimeError("the watcher is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="quotebot-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; waits up to `timeout` for an update in progress to commit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        started = False  # the start-up update has run
        try:
            for changes in self._source(self._service.knowledge, self._stop, self._debounce):
                if self._stop.is_set():
                    return
                if changes or not started:
                    started = True
                    self._update()
        except Exception as exc:  # the watch itself failed (folder gone, too many watches)
            if not self._stop.is_set():
                self._report_error(f"stopped watching {self._service.knowledge}: {exc}")
        if not started and not self._stop.is_set():
            self._update()  # the watch never started: the start-up update still runs

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
