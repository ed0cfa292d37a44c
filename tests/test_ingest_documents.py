import os
import random
import threading
from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.ingest.documents import (
    DocumentSkipped,
    hash_files,
    locate,
    read_document,
    scan_folder,
    supported_suffixes,
)
from bot.ingest.extraction import SUFFIX_FORMATS
from tests.privileges import permission_bits_apply

LATIN1 = "Le café de la rue Saint-Honoré est fermé à cause de la grève. Où est mon élève?"
_RANDOM = random.Random(0)
JUNK = bytes(_RANDOM.randrange(1, 256) for _ in range(4096))  # binary without NUL bytes


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
        (JUNK, "not valid UTF-8 .* not text in any encoding"),
        ("café au lait ".encode() * 20 + b"\xe9", "not valid UTF-8 .* though most of it is"),
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
    document = read_document(files[0])
    assert document.text == "line one\r\nnon\u00a0breaking"
    assert document.extracted is not None and document.extracted.encoding == "utf-8"


@pytest.mark.parametrize(
    ("name", "data", "encoding"),
    [
        ("fr.txt", LATIN1.encode("latin-1"), "cp1252"),
        ("short.txt", "café".encode("latin-1"), "cp1252"),
        ("quotes.md", "# Note\n\nHe said “hello” — and left… €5".encode("cp1252"), "cp1252"),
        ("ru.txt", "Привет, это русский текст в кодировке Windows.".encode("cp1251"), "cp1251"),
        ("bom.txt", "UTF-16 with a byte-order mark: é".encode("utf-16"), "utf-16"),
    ],
)
def test_text_in_other_encodings_is_detected(
    tmp_path: Path, name: str, data: bytes, encoding: str
) -> None:
    (tmp_path / name).write_bytes(data)
    files, _ = hash_files(tmp_path)
    document = read_document(files[0])
    assert document.extracted is not None and document.extracted.encoding == encoding
    assert document.text == data.decode(encoding)


def test_the_recorded_encoding_is_used_instead_of_detecting_again(tmp_path: Path) -> None:
    (tmp_path / "fr.txt").write_bytes(LATIN1.encode("latin-1"))
    files, _ = hash_files(tmp_path)
    assert read_document(files[0], encoding="cp1250").text == LATIN1.encode("latin-1").decode(
        "cp1250"
    )
    with pytest.raises(DocumentSkipped, match="cannot be decoded as utf-8"):
        read_document(files[0], encoding="utf-8")


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="not found"):
        hash_files(tmp_path / "nope")


# -- links, pipes, devices ---------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """knowledge/ with one real document and links of every kind; outside/ holds a secret."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secrets.env").write_text("DISCORD_TOKEN=abc.def.ghi\n")
    (outside / "folder" / "notes.txt").write_text("external notes")
    folder = tmp_path / "knowledge"
    (folder / "sub").mkdir(parents=True)
    (folder / "real.txt").write_text("real text")
    (folder / "sub" / "deep.md").write_text("deep text")
    return folder


def _warnings(folder: Path, **options: bool) -> tuple[list[str], list[str]]:
    files, warnings = hash_files(folder, **options)
    return [f.source for f in files], warnings


def test_a_link_out_of_the_folder_is_skipped_with_one_warning(linked: Path) -> None:
    (linked / "token.txt").symlink_to(linked.parent / "outside" / "secrets.env")
    (linked / "passwd.txt").symlink_to("/etc/passwd")
    sources, warnings = _warnings(linked)
    assert sources == ["real.txt", "sub/deep.md"]
    assert warnings == [
        "skipping passwd.txt: a link to a file outside the knowledge folder (/etc/passwd); "
        "set [knowledge] follow_external_links = true to index it",
        f"skipping token.txt: a link to a file outside the knowledge folder "
        f"({linked.parent / 'outside' / 'secrets.env'}); "
        "set [knowledge] follow_external_links = true to index it",
    ]


def test_follow_external_links_indexes_what_they_lead_to(linked: Path) -> None:
    (linked / "token.txt").symlink_to(linked.parent / "outside" / "secrets.env")
    (linked / "ext").symlink_to(linked.parent / "outside" / "folder")
    (linked / "again.txt").symlink_to(linked.parent / "outside" / "folder" / "notes.txt")
    sources, warnings = _warnings(linked, follow_external_links=True)
    assert sources == ["again.txt", "real.txt", "sub/deep.md", "token.txt"]
    assert warnings == [
        "skipping ext/notes.txt: the same file as again.txt (both reached through links)"
    ]
    files, _ = hash_files(linked, follow_external_links=True)
    token = next(f for f in files if f.source == "token.txt")
    assert read_document(token).text == "DISCORD_TOKEN=abc.def.ghi\n"


def test_a_folder_link_out_of_the_folder_is_one_warning(linked: Path) -> None:
    (linked / "ext").symlink_to(linked.parent / "outside" / "folder")
    sources, warnings = _warnings(linked)
    assert sources == ["real.txt", "sub/deep.md"]
    assert warnings == [
        "skipping ext/: a link to a folder outside the knowledge folder "
        f"({linked.parent / 'outside' / 'folder'}); "
        "set [knowledge] follow_external_links = true to index it"
    ]


def test_links_inside_loops_and_broken_links_are_skipped_with_one_warning_each(
    linked: Path,
) -> None:
    (linked / "alias.txt").symlink_to("real.txt")
    (linked / "sub" / "alias").symlink_to("..")
    (linked / "mirror").symlink_to("sub")
    (linked / "gone.txt").symlink_to("nowhere.txt")
    (linked / "loop1.txt").symlink_to("loop2.txt")
    (linked / "loop2.txt").symlink_to("loop1.txt")
    (linked / "picture.png").symlink_to("/etc/passwd")  # not a document: not a warning
    for options in ({}, {"follow_external_links": True}):
        sources, warnings = _warnings(linked, **options)
        assert sources == ["real.txt", "sub/deep.md"]
        assert warnings == [
            "skipping alias.txt: a link to real.txt inside the knowledge folder, which is "
            "indexed under its own name",
            "skipping gone.txt: a broken link (its target nowhere.txt does not exist)",
            "skipping loop1.txt: a symbolic link loop",
            "skipping loop2.txt: a symbolic link loop",
            "skipping mirror/: a link to sub/ inside the knowledge folder, whose documents are "
            "indexed under their own names",
            "skipping sub/alias/: a link to .., a folder that contains it (a loop)",
        ]


def test_a_followed_link_back_to_an_ancestor_is_a_loop(linked: Path) -> None:
    (linked / "up").symlink_to(linked.parent)
    sources, warnings = _warnings(linked, follow_external_links=True)
    assert sources == ["real.txt", "sub/deep.md"]
    assert warnings == [
        f"skipping up/: a link to {linked.parent}, a folder that contains it (a loop)"
    ]


def test_a_fifo_is_never_opened_and_a_device_is_skipped(linked: Path) -> None:
    os.mkfifo(linked / "pipe.txt")
    (linked / "null.txt").symlink_to("/dev/null")
    os.mkfifo(linked / "real.meta.toml")  # a sidecar that is a pipe must not block either
    result: list[object] = []
    scan = threading.Thread(target=lambda: result.append(_warnings(linked)), daemon=True)
    scan.start()
    scan.join(timeout=20)
    assert result, "scanning the folder blocked on a named pipe"
    sources, warnings = result[0]  # type: ignore[misc]
    assert sources == ["real.txt", "sub/deep.md"]
    assert warnings == [
        "skipping null.txt: a link to a character device, not a regular file",
        "skipping pipe.txt: a named pipe (FIFO), not a regular file",
    ]
    files, _ = hash_files(linked)
    with pytest.raises(DocumentSkipped, match=r"real\.meta\.toml: a named pipe"):
        read_document(files[0])


def test_a_document_replaced_by_a_link_since_indexing_is_refused(linked: Path) -> None:
    assert locate(linked, "real.txt").path == linked / "real.txt"
    (linked / "real.txt").unlink()
    (linked / "real.txt").symlink_to("/etc/passwd")
    with pytest.raises(DocumentSkipped, match="symbolic link"):
        locate(linked, "real.txt")
    assert locate(linked, "real.txt", follow_external_links=True).follow_link


# -- permissions (root ignores permission bits, so these drop its override for the block) -------


def test_an_unreadable_knowledge_folder_names_the_cause(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    folder.chmod(0)
    try:
        with permission_bits_apply(), pytest.raises(KnowledgeError) as caught:
            scan_folder(folder)
    finally:
        folder.chmod(0o755)
    assert str(caught.value) == f"cannot read the knowledge folder {folder}/: permission denied"


def test_an_unreadable_subfolder_is_one_warning(linked: Path) -> None:
    (linked / "sub").chmod(0)
    try:
        with permission_bits_apply():
            scan = scan_folder(linked)
    finally:
        (linked / "sub").chmod(0o755)
    assert [f.source for f in scan.files] == ["real.txt"]
    assert list(scan.unreadable_folders) == ["sub/"]
    assert scan.unreadable_folders["sub/"].reason == "Permission denied"


def test_supported_suffixes_name_each_format_once_by_its_first_suffix() -> None:
    named = supported_suffixes().split(" ")
    assert named == [".txt", ".md", ".html", ".pdf"]  # what the messages have always said
    assert sorted(SUFFIX_FORMATS[s] for s in named) == sorted(set(SUFFIX_FORMATS.values()))
    for suffix, kind in SUFFIX_FORMATS.items():
        first = named[[SUFFIX_FORMATS[s] for s in named].index(kind)]
        assert list(SUFFIX_FORMATS).index(first) <= list(SUFFIX_FORMATS).index(suffix)
