import errno
import os
from pathlib import Path

import pytest

from bot.ingest.safe_read import NotRegularFile, identity, read_regular


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(NotRegularFile, match=r"a named pipe \(FIFO\), not a regular file"):
        read_regular(tmp_path / "pipe")  # a blocking open() would hang here


def test_a_link_is_refused_unless_following_is_asked_for(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("text")
    (tmp_path / "link.txt").symlink_to("real.txt")
    with pytest.raises(OSError) as caught:
        read_regular(tmp_path / "link.txt")
    assert caught.value.errno == errno.ELOOP
    assert read_regular(tmp_path / "link.txt", follow_link=True) == b"text"
    assert read_regular(tmp_path / "real.txt", limit=2) == b"te"


def test_identity_changes_with_content_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one")
    first = identity(path)
    path.chmod(0o600)
    second = identity(path)
    path.write_text("three")
    assert len({first, second, identity(path)}) == 3
    assert identity(tmp_path / "missing") == ""
