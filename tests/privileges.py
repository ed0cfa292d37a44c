"""Make permission bits count in tests that may run as root (CI containers often do).

Root reads a `chmod 000` file anyway (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). Tests of "permission
denied" therefore drop those two capabilities: for this thread while a block runs
(`permission_bits_apply`), or for a child process from its start (`child_without_override`, a
`preexec_fn`). Where that is not possible the test is skipped, saying why.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_CAPS = (1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
_PR_CAPBSET_DROP = 24
_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@contextmanager
def permission_bits_apply() -> Iterator[None]:
    """Within the block, this thread is refused what the permission bits refuse (Linux)."""
    if os.geteuid() != 0:
        yield
        return
    libc = _libc()
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("running as root and cannot read capabilities to drop DAC override")
    saved = data[0].effective
    data[0].effective = saved & ~sum(1 << cap for cap in _CAPS)
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE")
    try:
        yield
    finally:
        data[0].effective = saved
        libc.capset(ctypes.byref(header), data)


def child_without_override() -> None:
    """preexec_fn: the child (even as root) is refused what the permission bits refuse."""
    if os.geteuid() != 0:
        return
    libc = _libc()
    for cap in _CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot drop capability", str(cap))


def require_droppable_override() -> None:
    """Skip unless a child process can be made to respect permission bits."""
    if os.geteuid() != 0:
        return
    import subprocess
    import sys

    try:
        subprocess.run(
            [sys.executable, "-c", "pass"], preexec_fn=child_without_override, check=True
        )
    except (subprocess.SubprocessError, OSError):
        pytest.skip("running as root without CAP_SETPCAP: permission bits cannot be tested")
