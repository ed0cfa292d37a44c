"""Find and read the documents of a knowledge folder.

Hashing is separated from reading so that an unchanged folder costs only a sha256 per file; web
pages and PDFs are extracted (bot.extraction) only when their hash is new. A `NAME.meta.toml`
sidecar is part of its document's hash, so editing the citation re-reads the document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.errors import KnowledgeError
from bot.extraction import SUFFIX_FORMATS, Extracted, ExtractionFailed, extract, sidecar_paths

SUFFIXES = tuple(SUFFIX_FORMATS)


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
    text: str  # what quote offsets refer to (extracted text for HTML and PDF)
    sha256: str
    size: int
    extracted: Extracted | None = None


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
    """Every document file (.txt .md .html .htm .pdf …) below `folder`, sorted, no hidden ones."""
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
        files.append(DocumentFile(source, path, content_hash(path, data), len(data)))
    return FolderScan(files, unreadable)


def hash_files(folder: Path) -> tuple[list[DocumentFile], list[str]]:
    """Hash every document file; unreadable files become warnings, not errors."""
    scan = scan_folder(folder)
    warnings = [f"skipping {s}: cannot read it ({why})" for s, why in scan.unreadable.items()]
    return scan.files, warnings


def content_hash(path: Path, data: bytes) -> str:
    """sha256 of the file's bytes, and of its metadata sidecar's bytes when it has one."""
    digest = hashlib.sha256(data)
    for sidecar in sidecar_paths(path):
        try:
            extra = sidecar.read_bytes()
        except OSError:
            continue
        digest.update(b"\0sidecar\0" + extra)
        break
    return digest.hexdigest()


def read_document(
    file: DocumentFile, *, time_limit_s: float = 30, memory_limit_mb: int = 1024
) -> Document:
    """Read and extract a document; raises DocumentSkipped with the reason if it cannot be quoted."""
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        raise DocumentUnreadable(str(exc.strerror or exc)) from None
    sha = content_hash(file.path, data)
    try:
        extracted = extract(
            file.path, data, time_limit_s=time_limit_s, memory_limit_mb=memory_limit_mb
        )
    except ExtractionFailed as exc:
        raise DocumentSkipped(exc.reason) from None
    if not extracted.text.strip():
        raise DocumentSkipped("it has no text")
    return Document(file.source, extracted.text, sha, len(data), extracted)
