"""Unusable index folders, through the CLI as a user meets them: one line, exit status 2, the
path and the cause; never a traceback, never a wait for a lock holder that does not exist."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.index.location import unusable
from tests.conftest import ROOT


def test_a_full_disk_says_so_and_that_the_index_in_service_is_unchanged(tmp_path: Path) -> None:
    error = unusable(tmp_path, "update", OSError(errno.ENOSPC, "No space left on device"))
    assert str(error) == (
        f"cannot update the index at {tmp_path}: No space left on device; "
        "free some space and run it again; the index in service is unchanged"
    )


def _cli(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`quotebot ARGS` as a user runs it (the fake embedder handed in: no model)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "tests.index_entry", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line != "ready"]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("quotebot: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("index_dir", "expected"),
    [
        ("a-file/index", ["cannot create the index at", "Not a directory", "a-file is a file"]),
        ("/proc/quotebot-index", ["cannot create the index at /proc/quotebot-index", "No such"]),
        # /proc exists but no lock file can be created in it: an error, not "another process".
        ("/proc", ["cannot update the index at /proc", "/proc/write.lock", "No such"]),
        ("lock-is-a-folder", ["write.lock: Is a directory", "remove it"]),
    ],
)
@pytest.mark.subprocess
def test_an_unusable_index_folder_is_one_line(
    tmp_path: Path, knowledge: Path, index_dir: str, expected: list[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "lock-is-a-folder" / "write.lock").mkdir(parents=True)
    started = time.monotonic()
    result = _cli("--knowledge", str(knowledge), "--index-dir", index_dir, "index", cwd=tmp_path)
    line = _one_line_error(result)
    assert all(part in line for part in expected), line
    assert time.monotonic() - started < 60  # never the 600 s wait for a lock holder


@pytest.mark.subprocess
def test_the_default_index_in_an_unwritable_working_directory_is_one_line(
    knowledge: Path,
) -> None:
    line = _one_line_error(_cli("--knowledge", str(knowledge), "ask", "economy", cwd=Path("/proc")))
    assert "cannot create the index at /proc/.quotebot/index" in line and "No such" in line


def _read_only_bind(folder: Path) -> tuple[str, ...]:
    """A command prefix that runs the CLI with `folder` mounted read-only (a private mount
    namespace: as root, chmod would not stop a write). Skips where that is not permitted."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(folder), "touch", str(folder / "probe")],
        capture_output=True,
        text=True,
    )
    if "Read-only file system" not in probe.stderr:
        pytest.skip(f"cannot mount read-only here: {probe.stderr.strip()[:100]}")
    return ("unshare", "-m", "sh", "-c", script, str(folder))


@pytest.mark.subprocess
def test_a_read_only_index_answers_until_it_must_be_updated(
    tmp_path: Path, knowledge: Path
) -> None:
    index_dir = tmp_path / "index"
    base = ("--knowledge", str(knowledge), "--index-dir", str(index_dir))
    assert _cli(*base, "index", cwd=tmp_path).returncode == 0
    read_only = _read_only_bind(index_dir)
    answered = _cli(*base, "ask", "--json", "economy", cwd=tmp_path, prefix=read_only)
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["quotes"]
    (knowledge / "new.txt").write_text("A new document about the harbour and its ferries.\n")
    line = _one_line_error(_cli(*base, "ask", "harbour", cwd=tmp_path, prefix=read_only))
    assert f"cannot update the index at {index_dir}" in line and "Read-only file system" in line
