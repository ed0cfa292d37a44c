"""Find and read the documents of a knowledge folder.

Hashing is separated from decoding so that an unchanged folder costs only a sha256 per file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.errors import KnowledgeError

SUFFIXES = (".txt", ".md")


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """A file found in the knowledge folder, identified by the hash of its bytes."""

    source: str  # path relative to the knowledge folder, with forward slashes
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Document:
    source: str
    text: str
    sha256: str
    size: int


class DocumentSkipped(Exception):
    """A file that cannot be indexed; the message says why, for a one-line warning."""


class DocumentUnreadable(DocumentSkipped):
    """The file could not be read at all (permissions, vanished, I/O error): possibly transient,
    so the index keeps serving the version it already has instead of remembering a skip."""


@dataclass(frozen=True, slots=True)
class FolderScan:
    """The hashed documents of a folder, plus those that exist but could not be read."""

    files: list[DocumentFile]
    unreadable: dict[str, str]  # source -> reason, e.g. "Permission denied"


def check_folder(folder: Path) -> None:
    if not folder.exists():
        raise KnowledgeError(f"knowledge folder not found: {folder}")
    if not folder.is_dir():
        raise KnowledgeError(f"knowledge path is not a folder: {folder}")


def find_files(folder: Path) -> Iterator[Path]:
    """Every *.txt / *.md below `folder`, sorted, skipping hidden files and folders."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in SUFFIXES and path.is_file():
            yield path


def scan_folder(folder: Path) -> FolderScan:
    """Hash every document file; unreadable files are listed with the reason, never an error."""
    check_folder(folder)
    files: list[DocumentFile] = []
    unreadable: dict[str, str] = {}
    for path in find_files(folder):
        source = path.relative_to(folder).as_posix()
        try:
            data = path.read_bytes()
        except OSError as exc:
            unreadable[source] = str(exc.strerror or exc)
            continue
        files.append(DocumentFile(source, path, hashlib.sha256(data).hexdigest(), len(data)))
    return FolderScan(files, unreadable)


def hash_files(folder: Path) -> tuple[list[DocumentFile], list[str]]:
    """Hash every document file; unreadable files become warnings, not errors."""
    scan = scan_folder(folder)
    warnings = [f"skipping {s}: cannot read it ({why})" for s, why in scan.unreadable.items()]
    return scan.files, warnings


def read_document(file: DocumentFile) -> Document:
    """Decode a document; raises DocumentSkipped with the reason if it cannot be quoted."""
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        raise DocumentUnreadable(str(exc.strerror or exc)) from None
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentSkipped(f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise DocumentSkipped("it is empty")
    if "\x00" in text:
        raise DocumentSkipped("it contains NUL bytes (a binary file?)")
    return Document(file.source, text, sha, len(data))
