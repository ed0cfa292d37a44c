"""Find and read the documents of a knowledge folder.

Hashing is separated from reading so that an unchanged folder costs only a sha256 per file; web
pages and PDFs are extracted (bot.extraction) only when their hash is new. A `NAME.meta.toml`
sidecar is part of its document's hash, so editing the citation re-reads the document.

Only what is really in the folder is read. A symbolic link to something outside it is skipped
unless `[knowledge] follow_external_links` allows it (a link to an env file would otherwise be
quoted to whoever asks for "the token"); a link to something inside it is skipped because its
target is indexed under its own name; loops, broken links, named pipes and devices are skipped by
name before anything is opened (opening a FIFO would block). Each skip is a `Problem` with an
identity, so that its warning is said once per change of the file (bot.warned).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.errors import KnowledgeError
from bot.extraction import SUFFIX_FORMATS, Extracted, ExtractionFailed, extract, sidecar_paths
from bot.extraction.plaintext import read_sidecar_bytes
from bot.safe_read import NotRegularFile, describe_kind, identity, read_regular

SUFFIXES = tuple(SUFFIX_FORMATS)
_FOLLOW_HINT = "set [knowledge] follow_external_links = true to index it"


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


@dataclass(frozen=True, slots=True)
class Problem:
    """A file or folder that is not indexed, and why (one line). `identity` changes when the file
    does (its hash, or its inode, size, times and mode), so the warning is repeated only then."""

    source: str
    message: str
    identity: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file or folder that exists but could not be read: possibly transient (permissions)."""

    reason: str  # e.g. "Permission denied"
    identity: str


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
            f"cannot read the knowledge folder {folder}/: {_reason(exc).lower()}"
        ) from None


def is_document_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in SUFFIXES


def find_files(folder: Path, *, follow_external_links: bool = False) -> list[Path]:
    """Every document file (.txt .md .html .htm .pdf …) below `folder` that would be read."""
    walk = _Walk(folder, follow_external_links)
    walk.run()
    return [path for _, path, _ in walk.found]


def scan_folder(folder: Path, *, follow_external_links: bool = False) -> FolderScan:
    """Hash every document file; what cannot be read is listed with the reason, never an error
    (except the knowledge folder itself: KnowledgeError naming the cause)."""
    check_folder(folder)
    walk = _Walk(folder, follow_external_links)
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
            unreadable[source] = Unreadable(_reason(exc), identity(path))
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
    if follow_external_links and not _within(real, root):
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

    `encoding` is the one recorded when a text file was indexed (see bot.extraction.charset).
    """
    try:
        data = read_regular(file.path, follow_link=file.follow_link)
    except NotRegularFile as exc:
        raise DocumentSkipped(str(exc)) from None
    except OSError as exc:
        raise DocumentUnreadable(_reason(exc)) from None
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


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it became a symbolic link, which is not followed"
    return str(exc.strerror or exc)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class _Walk:
    """One pass over the folder with os.scandir, deciding every link before anything is read.

    `found` holds (source, path, follow_link) of the regular document files, in source order.
    """

    def __init__(self, folder: Path, follow_external_links: bool) -> None:
        self.folder = folder
        self.root = Path(os.path.realpath(folder))
        self.follow = follow_external_links
        self.found: list[tuple[str, Path, bool]] = []
        self.problems: list[Problem] = []
        self.unreadable: dict[str, Unreadable] = {}
        self.unreadable_folders: dict[str, Unreadable] = {}
        self._visited: set[Path] = {self.root}  # real folders walked (links may lead back)
        self._followed: dict[Path, str] = {}  # real file -> source, for files reached by links

    def run(self) -> None:
        stack: list[tuple[Path, str, bool]] = [(self.folder, "", False)]
        while stack:
            directory, prefix, linked = stack.pop()
            try:
                with os.scandir(directory) as entries:
                    listed = sorted(entries, key=lambda entry: entry.name)
            except OSError as exc:
                if not prefix:
                    raise KnowledgeError(
                        f"cannot read the knowledge folder {self.folder}/: {_reason(exc).lower()}"
                    ) from None
                self.unreadable_folders[prefix] = Unreadable(_reason(exc), identity(directory))
                continue
            for entry in listed:
                if not entry.name.startswith("."):
                    self._entry(entry, prefix + entry.name, linked, stack)
        self.found.sort(key=lambda item: PurePosixPath(item[0]).parts)

    def _entry(
        self,
        entry: os.DirEntry[str],
        source: str,
        linked: bool,
        stack: list[tuple[Path, str, bool]],
    ) -> None:
        path = Path(entry.path)
        try:
            if entry.is_symlink():
                self._link(path, source, stack)
                return
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            if is_document_name(source):
                self.unreadable[source] = Unreadable(_reason(exc), identity(path))
            return
        if stat.S_ISDIR(mode):
            if linked:  # below a followed link: the same real folder may be reached twice
                real = Path(os.path.realpath(path))
                if real in self._visited:
                    return
                self._visited.add(real)
            stack.append((path, source + "/", linked))
        elif not is_document_name(source):
            return
        elif stat.S_ISREG(mode):
            if linked:
                self._add_followed(source, path, Path(os.path.realpath(path)), follow_link=False)
            else:
                self.found.append((source, path, False))
        else:
            self._skip(source, f"{describe_kind(mode)}, not a regular file", path)

    def _link(self, path: Path, source: str, stack: list[tuple[Path, str, bool]]) -> None:
        target = os.readlink(path)
        try:
            real = Path(os.path.realpath(path, strict=True))
            mode = os.stat(real).st_mode
        except OSError as exc:
            if is_document_name(source) or not PurePosixPath(source).suffix:
                self._skip(source, _broken_link(exc, target), path, target)
            return
        inside = _within(real, self.root)
        where = real.relative_to(self.root).as_posix() if inside else str(real)
        hidden = inside and any(part.startswith(".") for part in PurePosixPath(where).parts)
        if stat.S_ISDIR(mode):
            name = source + "/"
            if _within(Path(os.path.realpath(path.parent)), real) or _within(self.root, real):
                why = f"a link to {target}, a folder that contains it (a loop)"
            elif inside:
                why = f"a link to {where}/ inside the knowledge folder, " + (
                    "which is hidden (links inside the folder are not followed)"
                    if hidden
                    else "whose documents are indexed under their own names"
                )
            elif not self.follow:
                why = f"a link to a folder outside the knowledge folder ({real}); {_FOLLOW_HINT}"
            elif real in self._visited:
                why = f"a link to {real}, a folder already indexed through another link"
            else:
                self._visited.add(real)
                stack.append((path, name, True))
                return
            self._skip(name, why, path, target)
            return
        if not is_document_name(source):
            return
        if not stat.S_ISREG(mode):
            self._skip(source, f"a link to {describe_kind(mode)}, not a regular file", path, target)
        elif inside:
            indexed = not hidden and is_document_name(where)
            self._skip(
                source,
                f"a link to {where} inside the knowledge folder, "
                + (
                    "which is indexed under its own name"
                    if indexed
                    else "which is not indexed (links inside the folder are not followed)"
                ),
                path,
                target,
            )
        elif not self.follow:
            self._skip(
                source,
                f"a link to a file outside the knowledge folder ({real}); {_FOLLOW_HINT}",
                path,
                target,
            )
        else:
            self._add_followed(source, path, real, follow_link=True)

    def _add_followed(self, source: str, path: Path, real: Path, *, follow_link: bool) -> None:
        first = self._followed.setdefault(real, source)
        if first != source:
            self._skip(source, f"the same file as {first} (both reached through links)", path)
        else:
            self.found.append((source, path, follow_link))

    def _skip(self, source: str, why: str, path: Path, target: str = "") -> None:
        self.problems.append(
            Problem(source, f"skipping {source}: {why}", f"{identity(path)}|{target}")
        )


def _broken_link(exc: OSError, target: str) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT:
        return f"a broken link (its target {target} does not exist)"
    return f"a link whose target cannot be reached ({exc.strerror or exc})"
