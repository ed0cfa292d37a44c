"""Plain text as it is, plus an optional `NAME.meta.toml` sidecar that gives it a citation.

A `.txt` file has nowhere to keep a title, a date or a link, so a user may put them beside it:
`notes.meta.toml` (or `notes.txt.meta.toml`) with `title`, `date`, `url`, `author`.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from bot.extraction.base import Extracted, ExtractionFailed, iso_date

SIDECAR_SUFFIX = ".meta.toml"
_SIDECAR_MAX_BYTES = 64_000


def decode_text(data: bytes) -> str:
    """UTF-8 text that can be quoted; the same checks the indexer always made on .txt/.md."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExtractionFailed(f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ExtractionFailed("it is empty")
    if "\x00" in text:
        raise ExtractionFailed("it contains NUL bytes (a binary file?)")
    return text


def extract_plaintext(text: str) -> Extracted:
    return Extracted(text=text, format="text")


def sidecar_paths(path: Path) -> tuple[Path, Path]:
    """Where a document's metadata sidecar may be: `NAME.meta.toml`, `NAME.txt.meta.toml`."""
    return (
        path.with_name(path.stem + SIDECAR_SUFFIX),
        path.with_name(path.name + SIDECAR_SUFFIX),
    )


def read_sidecar(path: Path) -> dict[str, str]:
    """The sidecar's fields, or {} when there is none; a broken sidecar is an ExtractionFailed."""
    for candidate in sidecar_paths(path):
        try:
            raw = candidate.read_bytes()[:_SIDECAR_MAX_BYTES]
        except OSError:
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
