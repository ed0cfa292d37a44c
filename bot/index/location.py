"""Whether the index folder can be used, and one line saying why not.

filelock takes some failures to create its lock file (ENOENT in /proc, EACCES) for another
process holding the lock and waits out the whole lock timeout; a folder under a file, on a
read-only file system or a full disk would otherwise end in a traceback. Here each is an
`IndexLocationError` that names the folder, the path that failed and the cause.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from bot.errors import IndexLocationError


def prepare(directory: Path, lock_name: str) -> None:
    """Create the folder and open (creating) its lock file for writing, or say why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(directory, "create", exc) from None
    try:
        os.close(os.open(directory / lock_name, os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as exc:
        raise unusable(directory, "update", exc) from None


def unusable(directory: Path, action: str, exc: OSError) -> IndexLocationError:
    """`cannot ACTION the index at FOLDER: [PATH: ]CAUSE; HINT` for an OSError met there."""
    folder = directory.absolute()
    where = Path(os.fsdecode(exc.filename)).absolute() if exc.filename else folder
    cause = exc.strerror or str(exc)
    hint = "choose a writable folder with --index-dir or [index] dir"
    if isinstance(exc, NotADirectoryError | FileExistsError):
        blocker = next((p for p in (where, *where.parents) if p.is_file()), None)
        cause += f" ({blocker} is a file)" if blocker is not None else ""
    elif isinstance(exc, IsADirectoryError):
        cause += " (a folder where quotebot keeps a file)"
        hint = "remove it, or " + hint
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some space and run it again; the index in service is unchanged"
    detail = cause if where == folder else f"{where}: {cause}"
    return IndexLocationError(f"cannot {action} the index at {folder}: {detail}; {hint}")
