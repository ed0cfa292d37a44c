"""Which files of a knowledge folder are read: the rules for links, pipes, devices, permissions.

One pass with os.scandir decides every entry from its lstat before anything is opened. A symbolic
link to something outside the folder is skipped unless `[knowledge] follow_external_links` allows
it (a link to an env file would otherwise be quoted to whoever asks for "the token"); a link to
something inside is skipped because its target is indexed under its own name; loops, broken links,
named pipes and devices are skipped by name (opening a FIFO would block). Each skip is a
`Problem` with an identity, so that its warning is said once per change of the file (bot.ingest.skip_warnings).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.errors import KnowledgeError
from bot.ingest.extraction import SUFFIX_FORMATS
from bot.ingest.safe_read import describe_kind, identity

SUFFIXES = tuple(SUFFIX_FORMATS)
_FOLLOW_HINT = "set [knowledge] follow_external_links = true to index it"


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


def is_document_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in SUFFIXES


def os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it became a symbolic link, which is not followed"
    return str(exc.strerror or exc)


def within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class FolderWalk:
    """One pass over the folder (`run()`), deciding every link before anything is read.

    `found` holds (source, path, follow_link) of the regular document files, in source order;
    `unreadable` the document files that could not even be stat'ed.
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
                        f"cannot read the knowledge folder {self.folder}/: {os_reason(exc).lower()}"
                    ) from None
                self.unreadable_folders[prefix] = Unreadable(os_reason(exc), identity(directory))
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
                self.unreadable[source] = Unreadable(os_reason(exc), identity(path))
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
        inside = within(real, self.root)
        where = real.relative_to(self.root).as_posix() if inside else str(real)
        hidden = inside and any(part.startswith(".") for part in PurePosixPath(where).parts)
        if stat.S_ISDIR(mode):
            name = source + "/"
            if within(Path(os.path.realpath(path.parent)), real) or within(self.root, real):
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
