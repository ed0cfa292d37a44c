"""Replace a small file all at once: readers see the old content or the new, never half of it.

Why one helper: the pattern (a temporary file beside the target, written, fsynced, then
`os.replace`d over it, the temporary removed if anything fails) was written by hand in five
places, two of them without the fsync or the clean-up. The fsync is always done: these files are
a few kilobytes, and without it a power cut after the rename can leave an empty file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write `data` (text is UTF-8) to `path` through a temporary `.tmp-<name>-…` in the same
    folder; raise OSError with nothing left behind when it cannot."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
