"""Run an extractor on untrusted bytes in a child process that cannot hang, balloon or call out.

The child gets the bytes on stdin and answers with one JSON object on stdout. It sets its own
limits before reading anything: address space (`RLIMIT_AS`) and CPU seconds (`RLIMIT_CPU`), and
installs an audit hook that refuses sockets, subprocesses and `exec` (nothing in a document is ever
executed; this makes sure a library cannot be talked into it either). The parent enforces the wall
clock limit and kills the child when it is over. Limits are set in the child, not with
`preexec_fn`, because the parent may be threaded.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.ingest.extraction.base import Extracted, ExtractionFailed
from bot.ingest.extraction.registry import extract_in_process

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from bot.ingest.extraction.sandbox import child_main; child_main(sys.argv[2:])"
)


def run_isolated(fmt: str, data: bytes, *, time_limit_s: float, memory_mb: int) -> Extracted:
    command = [
        sys.executable,
        "-I",  # no user site, no PYTHON* variables, no current directory on sys.path
        "-c",
        _CHILD,
        _PACKAGE_ROOT,
        fmt,
        str(memory_mb),
        str(max(1, int(time_limit_s) + 1)),
    ]
    try:
        completed = subprocess.run(
            command, input=data, capture_output=True, timeout=time_limit_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise ExtractionFailed(
            f"extraction took longer than {time_limit_s:g} s (the per-file limit)"
        ) from None
    if completed.returncode < 0:
        raise ExtractionFailed(_death_reason(-completed.returncode, time_limit_s, memory_mb))
    try:
        answer: dict[str, Any] = json.loads(completed.stdout)
    except ValueError:
        last = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        if "MemoryError" in last[0]:
            raise ExtractionFailed(f"extraction needs more than {memory_mb} MB") from None
        raise ExtractionFailed(f"extraction crashed ({last[0][:160]})") from None
    if "error" in answer:
        raise ExtractionFailed(str(answer["error"]))
    return _from_json(answer)


def _death_reason(signum: int, time_limit_s: float, memory_mb: int) -> str:
    if signum == signal.SIGXCPU:
        return f"extraction took longer than {time_limit_s:g} s of CPU (the per-file limit)"
    if signum in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT):
        return f"extraction process died (signal {signum}; more than {memory_mb} MB of memory?)"
    return f"extraction process died (signal {signum})"


def _to_json(extracted: Extracted) -> dict[str, Any]:
    return {
        "text": extracted.text,
        "format": extracted.format,
        "title": extracted.title,
        "date": extracted.date,
        "url": extracted.url,
        "author": extracted.author,
        "pages": [list(p) for p in extracted.pages],
        "sections": [list(s) for s in extracted.sections],
    }


def _from_json(obj: dict[str, Any]) -> Extracted:
    return Extracted(
        text=str(obj["text"]),
        format=str(obj["format"]),
        title=obj.get("title"),
        date=obj.get("date"),
        url=obj.get("url"),
        author=obj.get("author"),
        pages=tuple((int(a), int(b), int(c)) for a, b, c in obj.get("pages", [])),
        sections=tuple((int(a), int(b), str(c)) for a, b, c in obj.get("sections", [])),
    )


_REFUSED_EVENTS = (
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
    "webbrowser.open",
)


def _refuse(event: str, _args: tuple[Any, ...]) -> None:
    if event.startswith(_REFUSED_EVENTS):
        raise PermissionError(f"{event} is not allowed while extracting a document")


def child_main(argv: list[str]) -> None:
    """Entry point of the child process: limits first, then read stdin, extract, answer JSON."""
    import resource

    fmt, memory_mb, cpu_s = argv[0], int(argv[1]), int(argv[2])
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    sys.addaudithook(_refuse)
    data = sys.stdin.buffer.read()
    try:
        answer = _to_json(extract_in_process(fmt, data))
    except ExtractionFailed as exc:
        answer = {"error": exc.reason}
    except MemoryError:
        answer = {"error": f"extraction needs more than {memory_mb} MB"}
    except RecursionError:
        answer = {"error": "the document is nested too deeply to read"}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    sys.stdout.flush()
