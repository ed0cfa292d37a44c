"""Crash safety of a real `quotebot index` process: SIGKILL at random points of large updates, two
writers at once, a full disk under a serving service.

The subprocesses run `tests/index_entry.py`: `bot.cli.main` with the FakeEmbedder handed in, so no
model is loaded and an update of ~900 chunks takes a fraction of a second.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.errors import IndexCorruptError
from bot.index.generation import IndexRecipe, MemoryIndex, embedding_input
from bot.index.report import UpdateReport
from bot.index.update import update_index
from bot.index.watcher import Watcher
from bot.ingest.chunking import ChunkerSettings
from bot.stores.files import FileStore
from tests.fakes import FakeEmbedder, ManualSource
from tests.index_entry import DIMENSION

ROOT = Path(__file__).resolve().parents[1]
RECIPE = IndexRecipe("fake-model", ChunkerSettings())  # what index_entry's service uses
DOCUMENTS = 150  # ~450 chunks; each update rewrites 30% of them, adds two and deletes one
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    return {**env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **extra}


def _index_command(knowledge: Path, index_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.index_entry",
        "--knowledge",
        str(knowledge),
        "--index-dir",
        str(index_dir),
        "index",
    ]


def _document(rng: random.Random) -> str:
    paragraphs = [
        " ".join(" ".join(rng.choices(WORDS, k=9)).capitalize() + "." for _ in range(7))
        for _ in range(3)
    ]
    return "\n\n".join(paragraphs) + "\n"


def _mutate(folder: Path, rng: random.Random, share: float) -> None:
    """A large update: rewrite `share` of the documents, add two, delete one."""
    files = sorted(folder.iterdir())
    for path in rng.sample(files, int(len(files) * share)):
        path.write_text(_document(rng))
    for _ in range(2):
        (folder / f"new{rng.randrange(10**9):09}.txt").write_text(_document(rng))
    rng.choice(files).unlink()


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@dataclass(frozen=True, slots=True)
class Committed:
    """What identifies a generation exactly: its number and the checksums of its files."""

    generation: int
    files: dict[str, str]
    documents: dict[str, str]


def _committed(index_dir: Path) -> Committed | None:
    """The generation CURRENT points at, fully checked by FileStore.open() first."""
    if FileStore(index_dir).open() is None:
        return None
    name = (index_dir / "CURRENT").read_text()
    manifest = json.loads((index_dir / name / "manifest.json").read_text())
    on_disk = {
        f: hashlib.sha256((index_dir / name / f).read_bytes()).hexdigest()
        for f in manifest["files"]
    }
    assert on_disk == manifest["files"]
    documents = {s: r["sha256"] for s, r in manifest["documents"].items()}
    return Committed(manifest["generation"], manifest["files"], documents)


class ExpectedVectors:
    """The vectors FakeEmbedder gives each chunk, computed once per distinct text."""

    def __init__(self) -> None:
        self._embedder = FakeEmbedder(dimension=DIMENSION)
        self._cache: dict[str, np.ndarray] = {}

    def check(self, index: MemoryIndex) -> None:
        texts = [embedding_input(chunk) for chunk in index.chunks]
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            self._cache.update(zip(missing, self._embedder.encode(missing), strict=True))
        expected = np.stack([self._cache[t] for t in texts])
        assert np.array_equal(index.vectors, expected), "vectors do not belong to their chunks"


def _settled(index_dir: Path) -> bool:
    """Only the current generation (and the lock file) remain: no temp files, no old generations."""
    current = (index_dir / "CURRENT").read_text()
    names = {p.name for p in index_dir.iterdir()}
    return names - {"write.lock"} == {"CURRENT", current}


@dataclass
class KillStats:
    kills: int = 0
    finished: int = 0  # the run completed before the kill landed (not counted as a kill)
    old: int = 0  # after the kill, the previous generation is current
    new: int = 0  # the killed run had already switched CURRENT
    mid_write: int = 0  # the kill left temp files or a superseded generation behind
    corrupt: int = 0
    settled_by_subprocess: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.kills} kills ({self.old} old generation, {self.new} new, "
            f"{self.mid_write} mid-write, {self.finished} runs finished first), "
            f"{self.corrupt} corrupt loads, {self.settled_by_subprocess} settled by a subprocess, "
            f"{self.seconds:.1f} s"
        )


def _wait_for_ready(process: subprocess.Popen[bytes]) -> None:
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.strip() == b"ready", line


def _listing(index_dir: Path) -> set[str]:
    try:
        return {entry.name for entry in os.scandir(index_dir) if entry.name != "write.lock"}
    except FileNotFoundError:
        return set()


def _wait_for_write(index_dir: Path, process: subprocess.Popen[bytes], limit: float) -> bool:
    """Poll until the index folder changes (the commit started: a temp generation, or whatever an
    implementation writes first); False if the run ended first. Knows nothing of file names, so
    it also targets a writer that (wrongly) writes in place."""
    before = _listing(index_dir)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if _listing(index_dir) - before:
            return True
        time.sleep(0.0005)
    return False


def _calibrate(knowledge: Path, index_dir: Path) -> tuple[float, float]:
    """Seconds from "ready" to exit, and from the first temp file to exit, of one full run."""
    process = subprocess.Popen(
        _index_command(knowledge, index_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    _wait_for_ready(process)
    started = time.monotonic()
    saw_write = _wait_for_write(index_dir, process, 60)
    writing = time.monotonic()
    process.wait(60)
    ended = time.monotonic()
    assert process.stderr is not None
    process.stderr.close()
    assert process.returncode == 0 and saw_write
    return ended - started, ended - writing


def run_kill_harness(
    tmp_path: Path, kills: int, seed: int, lanes: int = 2, subprocess_every: int = 10
) -> KillStats:
    """`lanes` independent harnesses in parallel (each on its own folder and index), so the
    suite's 50 kills fit in about a minute on two cores; the statistics are summed."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    share = -(-kills // lanes)
    with ThreadPoolExecutor(lanes) as pool:
        futures = [
            pool.submit(
                run_kill_lane,
                tmp_path / f"lane{lane}",
                share,
                seed * 100 + lane,
                subprocess_every,
            )
            for lane in range(lanes)
        ]
        results = [future.result() for future in futures]
    total = KillStats()
    for result in results:
        for name in ("kills", "finished", "old", "new", "mid_write", "corrupt"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.settled_by_subprocess += result.settled_by_subprocess
        total.errors += result.errors
    total.seconds = time.monotonic() - started
    return total


def run_kill_lane(tmp_path: Path, kills: int, seed: int, subprocess_every: int = 10) -> KillStats:
    """Kill `quotebot index` until `kills` kills have landed; check every aftermath.

    Even-numbered attempts kill at a uniformly random moment of the whole run; odd ones wait for
    the commit to start (a temp generation appears) and kill at a random moment of it, so the
    dangerous window is hit often. After each kill: the index loads, it is exactly the previous
    generation or exactly the new one (all documents of the folder, vectors that belong to their
    chunks), and the next run completes the update and leaves no temp file or old generation.
    """
    rng = random.Random(seed)
    knowledge, index_dir = tmp_path / "knowledge", tmp_path / "index"
    knowledge.mkdir(parents=True)
    for i in range(DOCUMENTS):
        (knowledge / f"doc{i:04}.txt").write_text(_document(rng))
    whole, commit = _calibrate(knowledge, index_dir)
    expected = ExpectedVectors()
    before = _committed(index_dir)
    changelog = FileStore(index_dir).read_changes()
    stats = KillStats()
    started = time.monotonic()
    attempt = 0
    while stats.kills < kills:
        attempt += 1
        _mutate(knowledge, rng, share=0.3)
        state = _folder_state(knowledge)
        process = subprocess.Popen(
            _index_command(knowledge, index_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
        )
        _wait_for_ready(process)
        if attempt % 2 == 0:
            time.sleep(rng.uniform(0, whole))
        elif _wait_for_write(index_dir, process, 30):
            time.sleep(rng.uniform(0, commit * 0.6))  # the rest of `commit` is cleanup and exit
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        assert process.stderr is not None
        process.stderr.close()
        if process.returncode != -signal.SIGKILL:
            assert process.returncode == 0
            stats.finished += 1
        else:
            stats.kills += 1
        stats.mid_write += not _settled(index_dir)

        try:
            after = _committed(index_dir)
        except IndexCorruptError as exc:
            stats.corrupt += 1
            stats.errors.append(str(exc))
            after = None
        else:
            assert after is not None and before is not None
            if after.generation == before.generation:
                assert after == before, "same generation number, different content"
                assert FileStore(index_dir).read_changes() == changelog, "an entry without a commit"
                stats.old += 1
            else:
                assert after.generation == before.generation + 1
                assert after.documents == state, "the new generation is not the folder's state"
                index = FileStore(index_dir).open()
                assert isinstance(index, MemoryIndex)
                expected.check(index)
                *kept, entry = FileStore(index_dir).read_changes()
                assert kept == changelog and entry.generation == after.generation
                stats.new += 1

        # The next run completes the update (every n-th time as a real subprocess).
        if attempt % subprocess_every == 0:
            done = subprocess.run(
                _index_command(knowledge, index_dir), capture_output=True, env=_env(), cwd=ROOT
            )
            assert done.returncode == 0, done.stderr.decode()
            stats.settled_by_subprocess += 1
        else:
            update_index(knowledge, FileStore(index_dir), RECIPE, FakeEmbedder(dimension=DIMENSION))
        before = _committed(index_dir)
        assert before is not None and before.documents == state
        assert _settled(index_dir), sorted(p.name for p in index_dir.iterdir())
        changelog = FileStore(index_dir).read_changes()
        generations = [entry.generation for entry in changelog]
        assert generations == list(range(1, before.generation + 1)), "one entry per update"
        index = FileStore(index_dir).open()
        assert isinstance(index, MemoryIndex)
        expected.check(index)
    stats.seconds = time.monotonic() - started
    return stats


# 10 kills in `make test` (~12 s); the 50 of before (~42 s) are `slow`, and CI runs them by name
# (.ci/run). The small run finishes every fifth update after a kill with a real process (the big
# one every tenth), so it still has some. Only the big run must see kills on both sides of the
# switch: about one kill in ten lands after it (three runs of ten kills: 0, 1 and 2 did).
@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("kills", "subprocess_every"),
    [(10, 5), pytest.param(50, 10, marks=pytest.mark.slow)],
    ids=["10-kills", "50-kills"],
)
def test_sigkill_during_updates_never_loses_or_corrupts_the_index(
    tmp_path: Path, kills: int, subprocess_every: int
) -> None:
    stats = run_kill_harness(tmp_path, kills=kills, seed=4, subprocess_every=subprocess_every)
    print(stats.line())
    assert stats.kills >= kills and stats.corrupt == 0, stats.errors
    if kills >= 50:
        assert stats.old and stats.new, "the kills did not land on both sides of the switch"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_sigkill_harness_long(tmp_path: Path, seed: int) -> None:
    stats = run_kill_harness(tmp_path, kills=150, seed=seed)
    print(stats.line())
    assert stats.kills >= 150 and stats.corrupt == 0, stats.errors
    assert stats.old and stats.new and stats.mid_write


# -- one writer ----------------------------------------------------------------------------------


def _small_folder(tmp_path: Path, count: int = 40) -> Path:
    rng = random.Random(7)
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for i in range(count):
        (folder / f"doc{i:03}.txt").write_text(_document(rng))
    return folder


def _writers(
    knowledge: Path, index_dir: Path, count: int, first: int = 0
) -> list[subprocess.CompletedProcess[str]]:
    """`count` processes at once, each with its own chunker size: each must rebuild everything,
    so each commits exactly one generation, and interleaved writers would reuse a number."""
    processes = [
        subprocess.Popen(
            _index_command(knowledge, index_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_env(
                QUOTEBOT_CHUNKING__MAX_CHARS=str(300 + 10 * (first + i)),
                TEST_EMBED_DELAY_SECONDS="0.02",
            ),
        )
        for i in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def _check_serial(
    index_dir: Path, results: list[subprocess.CompletedProcess[str]], before: int
) -> None:
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    committed = _committed(index_dir)
    assert committed is not None and committed.generation == before + len(results)
    generations = sorted(int(r.stdout.split("generation ")[1].split(",")[0]) for r in results)
    assert generations == list(range(before + 1, before + len(results) + 1))
    assert _settled(index_dir)


@pytest.mark.subprocess
def test_concurrent_writers_take_turns(tmp_path: Path) -> None:
    knowledge, index_dir = _small_folder(tmp_path), tmp_path / "index"
    results = _writers(knowledge, index_dir, 6)
    _check_serial(index_dir, results, before=0)
    assert any("another process is updating the index" in r.stderr for r in results)


@pytest.mark.slow
def test_a_hundred_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    knowledge, index_dir = _small_folder(tmp_path), tmp_path / "index"
    for round_ in range(10):
        results = _writers(knowledge, index_dir, 10, first=10 * round_)  # sizes never repeat
        _check_serial(index_dir, results, before=10 * round_)


@pytest.mark.subprocess
def test_a_second_writer_that_cannot_wait_exits_with_one_clear_line(tmp_path: Path) -> None:
    from filelock import FileLock, Timeout

    knowledge, index_dir = _small_folder(tmp_path), tmp_path / "index"
    first = subprocess.Popen(
        _index_command(knowledge, index_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=_env(TEST_EMBED_DELAY_SECONDS="2"),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the first writer holds the lock
            lock = FileLock(str(index_dir / "write.lock"))
            try:
                if index_dir.exists():
                    lock.acquire(timeout=0)
                    lock.release()
            except Timeout:
                break
            time.sleep(0.02)
        second = subprocess.run(
            _index_command(knowledge, index_dir),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(QUOTEBOT_INDEX__LOCK_TIMEOUT_SECONDS="0.3"),
            timeout=60,
        )
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert lines[-1].startswith("quotebot: error: another process has been updating the index")
    assert "waiting up to 0 s" in lines[-2] and "Traceback" not in second.stderr


@pytest.mark.subprocess
def test_the_run_after_a_killed_update_says_it_was_interrupted_and_what_is_redone(
    tmp_path: Path,
) -> None:
    knowledge, index_dir = _small_folder(tmp_path, count=6), tmp_path / "index"
    killed = subprocess.Popen(
        _index_command(knowledge, index_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(TEST_EMBED_DELAY_SECONDS="5"),  # killed while it embeds
        cwd=ROOT,
    )
    _wait_for_ready(killed)
    deadline = time.monotonic() + 30
    while not (index_dir / "updating.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    assert killed.stderr is not None
    killed.stderr.close()
    planned = json.loads((index_dir / "updating.json").read_text())
    assert planned["documents"] == 6 and planned["chunks"] > 0

    rerun = subprocess.run(
        [*_index_command(knowledge, index_dir), "--json"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert rerun.returncode == 0, rerun.stderr
    chunks = json.loads(rerun.stdout)["chunks_embedded"]
    assert chunks == planned["chunks"]  # nothing of the killed run was kept
    notice = (
        f"quotebot: warning: the previous update, started {planned['started_at']}, was "
        f"interrupted before it was saved ({chunks} chunks of 6 documents to embed); nothing "
        f"of it was kept: re-embedding {chunks} chunks of 6 documents"
    )
    assert notice in rerun.stderr.splitlines(), rerun.stderr
    assert _settled(index_dir)
    again = subprocess.run(
        _index_command(knowledge, index_dir), capture_output=True, text=True, env=_env(), cwd=ROOT
    )
    assert again.returncode == 0 and "interrupted" not in again.stderr


# -- disk full -----------------------------------------------------------------------------------


def test_disk_full_mid_save_keeps_serving_the_previous_generation(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    knowledge = _small_folder(tmp_path, count=5)
    settings = make_settings(knowledge)
    service = compose_service(settings, embedder=FakeEmbedder(), on_notice=print)
    service.refresh()
    served = service.index
    source = ManualSource()
    errors: list[str] = []
    updates: list[UpdateReport] = []
    (knowledge / "doc001.txt").write_text("Zulu zulu yankee. A new text about xray.\n")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", full_disk)
    with Watcher(service, on_update=updates.append, on_error=errors.append, source=source):
        deadline = time.monotonic() + 15
        while not errors and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(errors) == 1 and "No space left on device" in errors[0]
        assert service.index is served
        answer = service.ask("zulu yankee xray")
        assert answer.generation == served.manifest.generation
        assert not [p.name for p in settings.index_dir.iterdir() if p.name.startswith(".tmp")]
        assert _settled(settings.index_dir)

        monkeypatch.setattr(os, "fsync", real_fsync)  # space is freed; the next change goes through
        source.events.put({"saved"})
        while not updates and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(errors) == 1 and updates and updates[0].changed == ["doc001.txt"]
    assert service.index.manifest.generation == served.manifest.generation + 1
    assert service.ask("zulu yankee xray").quotes[0].source == "doc001.txt"
    assert _settled(settings.index_dir)
