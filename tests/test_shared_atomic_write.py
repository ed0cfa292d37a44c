import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.shared.atomic_write import write_atomically


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00\xffbytes", b"\x00\xffbytes"),
        ("text é\n", "text é\n".encode()),
        ("", b""),
    ],
)
def test_writes_bytes_and_utf8_text(tmp_path: Path, data: bytes | str, expected: bytes) -> None:
    target = tmp_path / "state.json"
    write_atomically(target, data)
    assert target.read_bytes() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@given(st.binary(max_size=2000), st.binary(max_size=2000))
def test_replaces_whatever_was_there(old: bytes, new: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "f"
        target.write_bytes(old)
        write_atomically(target, new)
        assert target.read_bytes() == new
        assert [p.name for p in Path(folder).iterdir()] == ["f"]


def test_a_failed_replace_leaves_the_old_content_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a folder where the file should go: os.replace refuses
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_atomically(target, "new")
    assert (target / "inside").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_a_missing_folder_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_atomically(tmp_path / "missing" / "f", "x")
    assert list(tmp_path.iterdir()) == []
