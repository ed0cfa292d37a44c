"""Turn a document file into quotable text with its citation (title, date, url, pages, sections).

`extract(path, data)` picks the format from the file's content first and its suffix second, so a
PDF saved as `.html` is still read as a PDF. Text and Markdown are decoded in-process (they are
cheap and nothing in them is interpreted); HTML and PDF, whose parsers do real work on untrusted
bytes, run in a child process with a time limit and a memory limit (see `sandbox`).
"""

from __future__ import annotations

from pathlib import Path

from bot.ingest.extraction.base import (
    EXTRACTOR_VERSION,
    READER_VERSION,
    Extracted,
    ExtractionFailed,
)
from bot.ingest.extraction.plaintext import read_sidecar, sidecar_paths, with_sidecar
from bot.ingest.extraction.registry import SUFFIX_FORMATS, extract_in_process
from bot.ingest.extraction.sandbox import run_isolated

__all__ = [
    "EXTRACTOR_VERSION",
    "READER_VERSION",
    "SUFFIX_FORMATS",
    "Extracted",
    "ExtractionFailed",
    "detect_format",
    "extract",
    "extract_in_process",
    "sidecar_paths",
]

DEFAULT_MEMORY_MB = 1024

_BINARY_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (a .docx or .epub?)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"\x7fELF", "a program"),
)


def detect_format(path: Path, data: bytes) -> str:
    """The format to read `data` as; raises ExtractionFailed for content we cannot read."""
    by_suffix = SUFFIX_FORMATS.get(path.suffix.lower())
    head = data[:2048]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise ExtractionFailed(f"the file is {what}, not {by_suffix or 'a document'}")
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or (
        by_suffix in (None, "pdf") and b"<html" in lowered
    ):
        return "html"
    if by_suffix == "pdf":
        raise ExtractionFailed("not a PDF (no %PDF header)")
    if by_suffix is None:
        raise ExtractionFailed(f"unsupported file type {path.suffix or '(no suffix)'}")
    return by_suffix


def extract(
    path: Path,
    data: bytes,
    *,
    time_limit_s: float = 30,
    memory_limit_mb: int = DEFAULT_MEMORY_MB,
    encoding: str | None = None,
) -> Extracted:
    """Extract one file; ExtractionFailed carries a one-line reason to show beside the file name.

    `path` is used for the suffix and for a `NAME.meta.toml` sidecar beside it; `data` are the
    file's bytes (the caller has already read and hashed them). `encoding` is the one recorded
    for a text file when it was indexed: given, it is used instead of detecting again.
    """
    fmt = detect_format(path, data)
    if fmt in ("html", "pdf"):
        extracted = run_isolated(fmt, data, time_limit_s=time_limit_s, memory_mb=memory_limit_mb)
    else:
        extracted = extract_in_process(fmt, data, encoding)
    return with_sidecar(extracted, read_sidecar(path))
