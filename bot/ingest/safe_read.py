"""Read a file from the knowledge folder only if it is a regular file, without ever blocking.

The folder is scanned (lstat) before anything is opened, so a named pipe or a device is skipped
by name; this module is the safety net for the moment between that scan and the read, when the
path may have been replaced: O_NONBLOCK makes opening a FIFO return at once instead of waiting for
a writer, O_NOFOLLOW refuses a link that appeared where a plain file was, and fstat on the open
descriptor decides whether anything is read at all.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """The path is a pipe, a device, a socket or a folder; `kind` says which, for a warning."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind}, not a regular file")
        self.kind = kind


def describe_kind(mode: int) -> str:
    """What a non-regular file is, in words: 'a named pipe (FIFO)', 'a character device' …"""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def read_regular(path: Path, *, follow_link: bool = False, limit: int | None = None) -> bytes:
    """The bytes of `path` (at most `limit`); NotRegularFile for anything but a regular file.

    Without `follow_link` a symbolic link at `path` itself fails with ELOOP (links are decided
    by the folder scan, never implicitly). Raises OSError as open() would otherwise.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_link else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(describe_kind(mode))
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        return handle.read() if limit is None else handle.read(limit)


def identity(path: Path) -> str:
    """What changes when the file at `path` is edited, replaced, re-linked or re-permissioned:
    used to say a problem with a file once per change of the file. "" if it cannot be stat'ed."""
    try:
        st = os.lstat(path)
    except OSError:
        return ""
    return f"{st.st_dev}:{st.st_ino}:{st.st_mode:o}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
