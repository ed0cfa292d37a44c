from pathlib import Path

import pytest

from bot.documents import DocumentSkipped, hash_files, read_document
from bot.errors import KnowledgeError


def test_finds_txt_and_md_recursively_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "sub" / "b.md").write_text("# beta")
    (tmp_path / "c.pdf").write_bytes(b"%PDF")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("secret")
    files, warnings = hash_files(tmp_path)
    assert [f.source for f in files] == ["a.txt", "c.pdf", "sub/b.md"]
    assert warnings == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe broken", "not valid UTF-8"),
        (b"   \n\n", "empty"),
        (b"bin\x00ary", "NUL"),
    ],
)
def test_unquotable_files_are_skipped_with_a_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / "bad.txt").write_bytes(content)
    files, _ = hash_files(tmp_path)
    with pytest.raises(DocumentSkipped, match=reason):
        read_document(files[0])


def test_text_is_decoded_verbatim(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("line one\r\nnon\u00a0breaking".encode())
    files, _ = hash_files(tmp_path)
    assert read_document(files[0]).text == "line one\r\nnon\u00a0breaking"


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="not found"):
        hash_files(tmp_path / "nope")
