"""Find and read the documents of a knowledge folder.

Hashing is separated from reading so that an unchanged folder costs only a sha256 per file; web
pages and PDFs are extracted (bot.ingest.extraction) only when their hash is new. A `NAME.meta.toml`
sidecar is part of its document's hash, so editing the citation re-reads the document.

Only what is really in the folder is read: which files those are (links, pipes, devices,
permissions) is decided by bot.ingest.folder_walk before anything is opened.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import KnowledgeError
from bot.ingest.extraction import (
    SUFFIX_FORMATS,
    Extracted,
    ExtractionFailed,
    extract,
    sidecar_paths,
)
from bot.ingest.extraction.plaintext import read_sidecar_bytes
from bot.ingest.folder_walk import (
    SUFFIXES,
    FolderWalk,
    Problem,
    Unreadable,
    is_document_name,
    os_reason,
    within,
)
from bot.ingest.safe_read import NotRegularFile, identity, read_regular

__all__ = [
    "SUFFIXES",
    "Document",
    "DocumentFile",
    "DocumentSkipped",
    "DocumentUnreadable",
    "FolderScan",
    "Problem",
    "Unreadable",
    "check_folder",
    "content_hash",
    "find_files",
    "folder_warning",
    "hash_files",
    "is_document_name",
    "locate",
    "read_document",
    "scan_folder",
    "supported_suffixes",
]


def supported_suffixes() -> str:
    """The formats read, for messages: the first suffix of each, in the extractors' order
    (".txt .md .html .pdf"), built from the table so a new format is named without editing them."""
    first: dict[str, str] = {}
    for suffix, kind in SUFFIX_FORMATS.items():
        first.setdefault(kind, suffix)
    return " ".join(first.values())


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """A file found in the knowledge folder, identified by the hash of its bytes."""

    source: str  # path relative to the knowledge folder, with forward slashes
    path: Path
    sha256: str
    size: int
    follow_link: bool = False  # `path` is a link out of the folder that the settings allow


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
    """The hashed documents of a folder, plus what exists but is not indexed."""

    files: list[DocumentFile]
    unreadable: dict[str, Unreadable]  # source -> why it could not be read
    problems: list[Problem] = field(default_factory=list)  # links, pipes, devices: never read
    unreadable_folders: dict[str, Unreadable] = field(default_factory=dict)  # "sub/" -> why


def check_folder(folder: Path) -> None:
    if not folder.exists():
        raise KnowledgeError(f"knowledge folder not found: {folder}")
    if not folder.is_dir():
        raise KnowledgeError(f"knowledge path is not a folder: {folder}")
    try:
        with os.scandir(folder):
            pass
    except OSError as exc:
        raise KnowledgeError(
            f"cannot read the knowledge folder {folder}/: {os_reason(exc).lower()}"
        ) from None


def find_files(folder: Path, *, follow_external_links: bool = False) -> list[Path]:
    """Every document file (.txt .md .html .htm .pdf …) below `folder` that would be read."""
    walk = FolderWalk(folder, follow_external_links)
    walk.run()
    return [path for _, path, _ in walk.found]


def scan_folder(folder: Path, *, follow_external_links: bool = False) -> FolderScan:
    """Hash every document file; what cannot be read is listed with the reason, never an error
    (except the knowledge folder itself: KnowledgeError naming the cause)."""
    check_folder(folder)
    walk = FolderWalk(folder, follow_external_links)
    walk.run()
    files: list[DocumentFile] = []
    unreadable = dict(walk.unreadable)
    problems = list(walk.problems)
    for source, path, follow_link in walk.found:
        try:
            data = read_regular(path, follow_link=follow_link)
        except NotRegularFile as exc:  # replaced since the walk looked at it
            problems.append(Problem(source, f"skipping {source}: {exc}", identity(path)))
            continue
        except OSError as exc:
            unreadable[source] = Unreadable(os_reason(exc), identity(path))
            continue
        files.append(DocumentFile(source, path, content_hash(path, data), len(data), follow_link))
    return FolderScan(files, unreadable, problems, walk.unreadable_folders)


def hash_files(
    folder: Path, *, follow_external_links: bool = False
) -> tuple[list[DocumentFile], list[str]]:
    """Hash every document file; what is not indexed becomes warnings, not errors."""
    scan = scan_folder(folder, follow_external_links=follow_external_links)
    warnings = [folder_warning(s, u.reason) for s, u in scan.unreadable_folders.items()]
    warnings += [f"skipping {s}: cannot read it ({u.reason})" for s, u in scan.unreadable.items()]
    return scan.files, warnings + [problem.message for problem in scan.problems]


def folder_warning(prefix: str, reason: str, kept: int = 0) -> str:
    still = f"; still serving the {kept} documents indexed from it" if kept else ""
    return f"skipping the folder {prefix}: cannot read it ({reason}){still}"


def content_hash(path: Path, data: bytes) -> str:
    """sha256 of the file's bytes, and of its metadata sidecar's bytes when it has one."""
    digest = hashlib.sha256(data)
    for sidecar in sidecar_paths(path):
        try:
            extra = read_sidecar_bytes(sidecar)
        except OSError:
            continue
        if extra is None:
            continue
        digest.update(b"\0sidecar\0" + extra)
        break
    return digest.hexdigest()


def locate(folder: Path, source: str, *, follow_external_links: bool = False) -> DocumentFile:
    """The file of an indexed `source`, checked against the link rules again (it may have been
    replaced by a link since it was indexed); DocumentSkipped if it may not be read."""
    path = folder / source
    root = Path(os.path.realpath(folder))
    real = Path(os.path.realpath(path))
    if real == Path(os.path.normpath(root / source)):
        return DocumentFile(source, path, "", 0)
    if follow_external_links and not within(real, root):
        return DocumentFile(source, path, "", 0, follow_link=path.is_symlink())
    raise DocumentSkipped("it is now reached through a symbolic link, which is not followed")


def read_document(
    file: DocumentFile,
    *,
    time_limit_s: float = 30,
    memory_limit_mb: int = 1024,
    encoding: str | None = None,
) -> Document:
    """Read and extract a document; raises DocumentSkipped with the reason if it cannot be quoted.

    `encoding` is the one recorded when a text file was indexed (see bot.ingest.extraction.charset).
    """
    try:
        data = read_regular(file.path, follow_link=file.follow_link)
    except NotRegularFile as exc:
        raise DocumentSkipped(str(exc)) from None
    except OSError as exc:
        raise DocumentUnreadable(os_reason(exc)) from None
    sha = content_hash(file.path, data)
    try:
        extracted = extract(
            file.path,
            data,
            time_limit_s=time_limit_s,
            memory_limit_mb=memory_limit_mb,
            encoding=encoding,
        )
    except ExtractionFailed as exc:
        raise DocumentSkipped(exc.reason) from None
    if not extracted.text.strip():
        raise DocumentSkipped("it has no text")
    return Document(file.source, extracted.text, sha, len(data), extracted)
