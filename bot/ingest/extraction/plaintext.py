"""Plain text as it is, plus an optional `NAME.meta.toml` sidecar that gives it a citation.

A `.txt` file has nowhere to keep a title, a date or a link, so a user may put them beside it:
`notes.meta.toml` (or `notes.txt.meta.toml`) with `title`, `date`, `url`, `author`.
"""

from __future__ import annotations

import codecs
import errno
import os
import tomllib
from dataclasses import replace
from pathlib import Path

from bot.ingest.extraction.base import Extracted, ExtractionFailed, iso_date
from bot.ingest.extraction.charset import decode
from bot.ingest.safe_read import read_regular

SIDECAR_SUFFIX = ".meta.toml"
_SIDECAR_MAX_BYTES = 64_000
# UTF-16 and UTF-32 text is full of NUL bytes; with a byte-order mark it is text, not binary.
_UNICODE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def decode_text(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text that can be quoted, its encoding): UTF-8, else the detected (or recorded) one."""
    if b"\x00" in data and not data.startswith(_UNICODE_BOMS):
        raise ExtractionFailed("it contains NUL bytes (a binary file?)")
    text, used = decode(data, encoding)
    if not text.strip():
        raise ExtractionFailed("it is empty")
    if "\x00" in text:
        raise ExtractionFailed("it contains NUL bytes (a binary file?)")
    return text, used


def extract_plaintext(text: str, encoding: str | None = None) -> Extracted:
    return Extracted(text=text, format="text", encoding=encoding)


def sidecar_paths(path: Path) -> tuple[Path, Path]:
    """Where a document's metadata sidecar may be: `NAME.meta.toml`, `NAME.txt.meta.toml`."""
    return (
        path.with_name(path.stem + SIDECAR_SUFFIX),
        path.with_name(path.name + SIDECAR_SUFFIX),
    )


def read_sidecar(path: Path) -> dict[str, str]:
    """The sidecar's fields, or {} when there is none; a broken sidecar is an ExtractionFailed.

    A sidecar must be a regular file: a link is not followed and a pipe is never opened.
    """
    for candidate in sidecar_paths(path):
        try:
            raw = read_sidecar_bytes(candidate)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ExtractionFailed(f"cannot read {candidate.name}: {_why(exc)}") from None
        if raw is None:
            continue
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ExtractionFailed(f"invalid {candidate.name}: {exc}") from None
        fields: dict[str, str] = {}
        for key in ("title", "date", "url", "author"):
            value = data.get(key)
            if value is not None:
                fields[key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return fields
    return {}


def read_sidecar_bytes(candidate: Path) -> bytes | None:
    """The first bytes of a sidecar, None when there is none; OSError when one cannot be read."""
    if not os.path.lexists(candidate):
        return None
    return read_regular(candidate, limit=_SIDECAR_MAX_BYTES)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link (not followed)"
    return str(exc.strerror or exc)


def with_sidecar(extracted: Extracted, fields: dict[str, str]) -> Extracted:
    """Sidecar fields override what the document itself says."""
    if not fields:
        return extracted
    return replace(
        extracted,
        title=fields.get("title", extracted.title),
        date=iso_date(fields.get("date")) or extracted.date,
        url=fields.get("url", extracted.url),
        author=fields.get("author", extracted.author),
    )
