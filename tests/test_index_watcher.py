"""Live updates: debouncing, errors that keep the old generation, answers that change without a
restart, and questions answered during a re-embed that each see exactly one generation."""

from __future__ import annotations

import contextlib
import errno
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.embedding.model import ModelSpec
from bot.index.generation import SearchIndex
from bot.index.report import UpdateReport
from bot.index.watcher import Debounce, Watcher, is_relevant, watchfiles_source
from bot.service import QuoteService
from tests.fakes import FakeEmbedder, ManualSource
from tests.privileges import permission_bits_apply

WAIT = 15.0  # generous: two shared cores


class CountingService:
    """A stand-in for QuoteService: counts refreshes, can be told to fail the next ones, and
    notes the folder's documents as each refresh saw them."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.refreshes = 0
        self.failures: list[BaseException] = []
        self.seen: list[list[str]] = []
        self.done = threading.Semaphore(0)

    @property
    def knowledge(self) -> Path:
        return self._folder

    def refresh(self) -> UpdateReport:
        self.refreshes += 1
        self.seen.append(sorted(path.name for path in self._folder.iterdir()))
        try:
            if self.failures:
                raise self.failures.pop(0)
            return UpdateReport(changed=["a.txt"], generation=self.refreshes)
        finally:
            self.done.release()


def _wait_for(semaphore: threading.Semaphore, count: int = 1) -> None:
    for _ in range(count):
        assert semaphore.acquire(timeout=WAIT), "no update within the time limit"


# -- the watcher over an injected source of batches (no filesystem, no waiting on time) ----------


def test_one_update_per_batch_of_changes_and_none_while_quiet(tmp_path: Path) -> None:
    service = CountingService(tmp_path)
    source = ManualSource()
    updates: list[UpdateReport] = []
    with Watcher(service, on_update=updates.append, source=source) as watcher:
        _wait_for(service.done)  # the start-up update, on the source's first (empty) batch
        source.events.put({"a.txt", "b.txt", "c.txt"})  # a burst, as watchfiles gathers it
        source.events.put(set())  # quiet: nothing changed
        source.events.put(set())
        source.events.join()
        assert service.refreshes == 2 and watcher.updates == 2
        source.events.put({"a.txt"})
        source.events.join()
    assert service.refreshes == 3 and len(updates) == 3


def test_a_failed_update_is_reported_once_and_the_next_change_retries(tmp_path: Path) -> None:
    service = CountingService(tmp_path)
    service.failures.append(OSError(errno.ENOSPC, "No space left on device"))
    source = ManualSource()
    errors: list[str] = []
    updates: list[UpdateReport] = []
    with Watcher(service, on_update=updates.append, on_error=errors.append, source=source):
        _wait_for(service.done)
        source.events.put({"saved"})
        source.events.join()
    assert len(errors) == 1 and "No space left" in errors[0] and "previous" in errors[0]
    assert len(updates) == 1


def test_a_watch_that_cannot_start_is_reported_and_the_start_up_update_still_runs(
    tmp_path: Path,
) -> None:
    def no_watches(folder: Path, stop: threading.Event, debounce: Debounce) -> list[set[str]]:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    service = CountingService(tmp_path)
    errors: list[str] = []
    with Watcher(service, on_error=errors.append, source=no_watches):
        _wait_for(service.done)
    assert service.refreshes == 1
    assert errors == [f"stopped watching {tmp_path}: [Errno 28] inotify watch limit reached"]


def test_the_source_is_given_the_folder_and_the_debounce(tmp_path: Path) -> None:
    given: queue.Queue[tuple[Path, Debounce]] = queue.Queue()

    def recording(folder: Path, stop: threading.Event, debounce: Debounce) -> list[set[str]]:
        given.put((folder, debounce))
        return []

    with Watcher(
        CountingService(tmp_path), quiet_seconds=0.2, max_delay_seconds=4.0, source=recording
    ):
        assert given.get(timeout=WAIT) == (tmp_path, Debounce(0.2, 4.0))


# -- watchfiles' own debounce, over a real folder ------------------------------------------------


def test_a_burst_of_saves_becomes_one_update(tmp_path: Path) -> None:
    service = CountingService(tmp_path)
    batches: list[set[str]] = []

    def recorded(
        folder: Path, stop: threading.Event, debounce: Debounce
    ) -> Iterator[Collection[object]]:
        for batch in watchfiles_source(folder, stop, debounce):
            if batch:
                batches.append({Path(path).name for _, path in batch})  # type: ignore[misc]
            yield batch

    with Watcher(service, quiet_seconds=0.3, source=recorded):
        _wait_for(service.done)  # the start-up update runs once the watch is set up
        burst = [f"note{i:02}.txt" for i in range(20)]
        for name in burst:
            (tmp_path / name).write_text(name)
        _wait_for(service.done)
    assert batches == [set(burst)]  # split in two, the first would hold only part of it
    assert service.seen == [[], burst]


def test_constant_churn_still_updates_after_max_delay(tmp_path: Path) -> None:
    service = CountingService(tmp_path)
    with Watcher(service, quiet_seconds=0.5, max_delay_seconds=0.3):
        _wait_for(service.done)
        started = time.monotonic()
        written = 0
        while service.refreshes < 2 and time.monotonic() - started < WAIT:
            (tmp_path / f"churn{written:04}.txt").write_text("x")  # never quiet for 0.5 s
            written += 1
            time.sleep(0.05)  # the pace of the churn, not a wait for the watcher
    assert service.refreshes >= 2


def test_stop_is_prompt_while_watching(tmp_path: Path) -> None:
    service = CountingService(tmp_path)
    watcher = Watcher(service, quiet_seconds=0.2).start()
    _wait_for(service.done)
    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < 5.0  # watchfiles checks the stop event every 0.2 s
    assert not [t for t in threading.enumerate() if t.name == "quotebot-watch"]


def test_only_documents_and_folders_are_relevant(tmp_path: Path) -> None:
    assert is_relevant(str(tmp_path / "a.txt"), tmp_path)
    assert is_relevant(str(tmp_path / "sub" / "b.MD"), tmp_path)
    assert is_relevant(str(tmp_path / "renamed-folder"), tmp_path)
    assert is_relevant(str(tmp_path / "page.html"), tmp_path)
    assert is_relevant(str(tmp_path / "report.pdf"), tmp_path)
    assert is_relevant(str(tmp_path / "a.meta.toml"), tmp_path)  # a citation sidecar
    assert not is_relevant(str(tmp_path / "config.toml"), tmp_path)
    assert not is_relevant(str(tmp_path / ".a.txt.swp"), tmp_path)
    assert not is_relevant(str(tmp_path / ".quotebot" / "gen-1"), tmp_path)
    assert not is_relevant(str(tmp_path / "picture.png"), tmp_path)
    assert not is_relevant("/elsewhere/a.txt", tmp_path)


# -- the real thing: watchfiles + QuoteService ---------------------------------------------------

ZEBRA = "The zebra has black and white stripes and lives on the open savanna.\n"
GIRAFFE = "The giraffe has a very long neck and eats leaves from tall acacia trees.\n"
PENGUIN = "The penguin swims in cold southern oceans and cannot fly at all.\n"
OCTOPUS = "The octopus has eight arms, blue blood and three hearts.\n"


@pytest.fixture
def animals(tmp_path: Path) -> Path:
    folder = tmp_path / "animals"
    folder.mkdir()
    (folder / "a.txt").write_text(ZEBRA)
    (folder / "b.txt").write_text(PENGUIN)
    return folder


def _source(service: QuoteService, question: str) -> str | None:
    answer = service.ask(question)
    return None if answer.declined else answer.quotes[0].source


def _quoted(service: QuoteService, question: str) -> str:
    return " ".join(quote.text for quote in service.ask(question).quotes)


def test_edits_adds_renames_and_deletes_change_answers_without_a_restart(
    animals: Path, make_settings: Callable[..., Settings]
) -> None:
    service = compose_service(make_settings(animals), embedder=FakeEmbedder(), on_notice=print)
    assert _source(service, "zebra stripes") == "a.txt"
    reports: queue.Queue[UpdateReport] = queue.Queue()
    started = threading.Event()

    class StartUpNoted:
        """The service, telling when the watcher's start-up check (after the watch is set up)
        is done."""

        knowledge = service.knowledge

        def refresh(self) -> UpdateReport:
            try:
                return service.refresh()
            finally:
                started.set()

    with Watcher(StartUpNoted(), on_update=reports.put, quiet_seconds=0.2):
        assert started.wait(WAIT)

        (animals / "a.txt").write_text(GIRAFFE)
        report = reports.get(timeout=WAIT)
        assert report.changed == ["a.txt"] and report.chunks_embedded == 1
        assert _source(service, "giraffe long neck") == "a.txt"
        assert "zebra" not in _quoted(service, "zebra stripes")

        (animals / "c.txt").write_text(OCTOPUS)
        assert reports.get(timeout=WAIT).added == ["c.txt"]
        assert _source(service, "octopus arms hearts") == "c.txt"

        (animals / "c.txt").rename(animals / "d.txt")
        report = reports.get(timeout=WAIT)
        assert (report.added, report.removed) == (["d.txt"], ["c.txt"])
        assert _source(service, "octopus arms hearts") == "d.txt"

        (animals / "b.txt").unlink()
        assert reports.get(timeout=WAIT).removed == ["b.txt"]
        assert "penguin" not in _quoted(service, "penguin swims oceans")
    assert sorted(service.index.manifest.documents) == ["a.txt", "d.txt"]


def test_a_document_that_becomes_unreadable_keeps_its_previous_version(
    animals: Path, make_settings: Callable[..., Settings]
) -> None:
    service = compose_service(make_settings(animals), embedder=FakeEmbedder(), on_notice=print)
    service.refresh()
    locked = animals / "a.txt"
    locked.chmod(0)  # what a permission change does (as root too: see permission_bits_apply)
    reports: queue.Queue[UpdateReport] = queue.Queue()
    errors: list[str] = []
    try:
        # The watcher's thread is started inside the block, so it is refused what the bits say.
        with (
            permission_bits_apply(),
            Watcher(service, on_update=reports.put, on_error=errors.append, quiet_seconds=0.2),
        ):
            (animals / "c.txt").write_text(OCTOPUS)
            report = reports.get(timeout=WAIT)
    finally:
        locked.chmod(0o644)
    assert report.added == ["c.txt"] and not errors
    assert report.warnings == [
        "cannot read a.txt (Permission denied); still serving its previous version"
    ]
    assert _source(service, "zebra stripes") == "a.txt"
    assert _source(service, "octopus arms hearts") == "c.txt"


# -- questions during a re-embed -----------------------------------------------------------------


class SlowEmbedder(FakeEmbedder):
    """Batches (the re-embed) take long and questions take a little, so swaps land mid-question."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.4 if len(texts) > 1 else 0.003)
        return super().encode(texts)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec("fake-model", "fake-model")


MARKERS = ["amber", "bronze", "cobalt", "denim"]


def _write_generation(folder: Path, marker: str) -> None:
    for i in range(12):
        (folder / f"report{i:02}.txt").write_text(
            f"Report {i} names the colour {marker}. The colour of report {i} is {marker} today.\n"
        )


def _chunks(index: SearchIndex) -> set[tuple[str, int, int, str]]:
    chunks = index.chunks  # type: ignore[attr-defined]
    return {(c.source, c.start, c.end, c.text) for c in chunks}


def test_questions_during_a_re_embed_are_answered_from_one_generation_each(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    _write_generation(folder, MARKERS[0])
    service = compose_service(make_settings(folder), embedder=SlowEmbedder(), on_notice=print)
    service.refresh()
    generations = {service.index.manifest.generation: _chunks(service.index)}
    markers = {service.index.manifest.generation: MARKERS[0]}

    def re_embed() -> None:
        for marker in MARKERS[1:]:
            _write_generation(folder, marker)
            service.refresh()
            index = service.index
            generations[index.manifest.generation] = _chunks(index)
            markers[index.manifest.generation] = marker

    answers: list[tuple[int | None, list[tuple[str, int, int, str]]]] = []
    writer = threading.Thread(target=re_embed)
    start = threading.Barrier(21)

    def ask() -> None:
        start.wait()
        while True:
            done = not writer.is_alive()
            answer = service.ask("which colour does the report name")
            quotes = [(q.source, q.start, q.end, q.text) for q in answer.quotes]
            answers.append((answer.generation, quotes))
            if done:
                return

    askers = [threading.Thread(target=ask) for _ in range(20)]
    for thread in askers:
        thread.start()
    writer.start()
    start.wait()
    writer.join()
    for thread in askers:
        thread.join()

    assert len(generations) == len(MARKERS)
    seen = set()
    for generation, quotes in answers:
        assert generation in generations and quotes
        for quote in quotes:
            assert quote in generations[generation]
            assert markers[generation] in quote[3]
        seen.add(generation)
    assert len(seen) >= 2, "no question was in flight during a swap"
    print(f"{len(answers)} answers from generations {sorted(seen)}")


@pytest.mark.subprocess
def test_repl_with_watch_prints_one_line_when_an_update_lands(
    animals: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.index_entry", "--knowledge", str(animals)),
            *("--index-dir", str(tmp_path / "index"), "repl", "--watch"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
    )
    assert process.stdin is not None and process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    )
    reader.start()

    def wait_for(prefix: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            line = lines.get(timeout=WAIT)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}")

    try:
        wait_for("watching ")  # a change from here on is seen by the start-up check or the watch
        (animals / "c.txt").write_text(OCTOPUS)
        notice = wait_for("index updated")
        process.stdin.write("octopus arms hearts\n:quit\n")
        process.stdin.flush()
        assert process.wait(WAIT) == 0
    finally:
        process.kill()
        process.wait(WAIT)
        reader.join(WAIT)  # it ends at the end of the output; then the pipes can be closed
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        process.stdout.close()
    assert notice == "index updated (generation 2): 1 added, 0 changed, 0 removed\n"
