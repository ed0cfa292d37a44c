from pathlib import Path

from bot.ingest.documents import Problem
from bot.ingest.skip_warnings import WarnedFiles

PIPE = Problem("pipe.txt", "skipping pipe.txt: a named pipe (FIFO), not a regular file", "i1")
BINARY = Problem("bin.txt", "skipping bin.txt: not valid UTF-8 (byte 0) …", "sha-a")


def test_each_problem_is_said_once_while_the_file_stays_the_same(tmp_path: Path) -> None:
    warned = WarnedFiles(tmp_path / "warned.json")
    assert warned.fresh([PIPE, BINARY]) == [PIPE.message, BINARY.message]
    assert warned.fresh([PIPE, BINARY]) == []
    assert WarnedFiles(tmp_path / "warned.json").fresh([BINARY, PIPE]) == []  # next process


def test_a_changed_file_or_changed_reason_is_said_again(tmp_path: Path) -> None:
    warned = WarnedFiles(tmp_path / "warned.json")
    warned.fresh([PIPE, BINARY])
    edited = Problem(BINARY.source, BINARY.message, "sha-b")
    assert warned.fresh([PIPE, edited]) == [BINARY.message]
    relinked = Problem(PIPE.source, "skipping pipe.txt: a symbolic link loop", PIPE.identity)
    assert warned.fresh([relinked, edited]) == [relinked.message]


def test_a_problem_that_goes_away_and_comes_back_is_said_again(tmp_path: Path) -> None:
    warned = WarnedFiles(tmp_path / "warned.json")
    warned.fresh([PIPE])
    assert warned.fresh([]) == []
    assert WarnedFiles(tmp_path / "warned.json").fresh([PIPE]) == [PIPE.message]


def test_without_a_usable_file_it_remembers_for_the_process(tmp_path: Path) -> None:
    (tmp_path / "warned.json").write_text("{not json")
    broken = WarnedFiles(tmp_path / "warned.json")
    assert broken.fresh([PIPE]) == [PIPE.message]
    assert broken.fresh([PIPE]) == []
    nowhere = WarnedFiles(tmp_path / "missing-folder" / "warned.json")
    assert nowhere.fresh([PIPE]) == [PIPE.message] and nowhere.fresh([PIPE]) == []
    assert not (tmp_path / "missing-folder").exists()
    in_memory = WarnedFiles()
    assert in_memory.fresh([PIPE]) == [PIPE.message] and in_memory.fresh([PIPE]) == []
