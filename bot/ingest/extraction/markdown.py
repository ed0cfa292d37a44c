"""Markdown notes: the text as written, with headings turned into section paths.

The Markdown itself is kept (quotes are verbatim from the file a user wrote); only an optional front
matter block (`---` YAML-ish or `+++` TOML) is cut off the top and read for title, date and url.
Headings inside fenced code blocks are not headings.
"""

from __future__ import annotations

import re
import tomllib

from bot.ingest.extraction.base import Extracted, iso_date, section_spans

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_YAML_FIELD = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")


def extract_markdown(text: str) -> Extracted:
    """Sections and front-matter metadata of a Markdown document (already decoded)."""
    meta, body_start = _front_matter(text)
    body = text[body_start:]
    headings = _headings(body)
    title = meta.get("title") or next((t for _, level, t in headings if level == 1), None)
    return Extracted(
        text=body,
        format="markdown",
        title=title,
        date=iso_date(meta.get("date")),
        url=meta.get("url") or meta.get("link") or None,
        author=meta.get("author") or None,
        sections=section_spans(headings, len(body)),
    )


def _front_matter(text: str) -> tuple[dict[str, str], int]:
    """(fields, where the body starts); no front matter gives ({}, 0)."""
    stripped = text.removeprefix("\ufeff")
    offset = len(text) - len(stripped)
    for fence in ("---", "+++"):
        if not stripped.startswith(fence + "\n") and not stripped.startswith(fence + "\r\n"):
            continue
        match = re.compile(rf"^{re.escape(fence)}[ \t]*\r?$", re.MULTILINE).search(
            stripped, len(fence) + 1
        )
        if not match:
            return {}, 0
        block = stripped[len(fence) + 1 : match.start()]
        end = match.end()
        while end < len(stripped) and stripped[end] in "\r\n":
            end += 1
        fields = _parse_toml(block) if fence == "+++" else _parse_yaml(block)
        return fields, offset + end
    return {}, 0


def _parse_yaml(block: str) -> dict[str, str]:
    """Top-level `key: value` scalars only: enough for title/date/url without a YAML library."""
    fields: dict[str, str] = {}
    for line in block.splitlines():
        match = _YAML_FIELD.match(line)
        if match and match.group(2).strip():
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            fields[match.group(1).lower()] = value
    return fields


def _parse_toml(block: str) -> dict[str, str]:
    try:
        data = tomllib.loads(block)
    except tomllib.TOMLDecodeError:
        return {}
    return {k.lower(): str(v) for k, v in data.items() if isinstance(v, str | int | float)} | {
        k.lower(): v.isoformat() for k, v in data.items() if hasattr(v, "isoformat")
    }


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset of the heading line, level, title) for ATX and setext headings outside fences."""
    headings: list[tuple[int, int, str]] = []
    fence: str | None = None
    offset = 0
    previous: tuple[int, str] | None = None  # (offset, text) of the previous non-blank line
    for line in text.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        fence_match = _FENCE.match(content)
        if fence_match:
            fence = None if fence == fence_match.group(1) else fence or fence_match.group(1)
            previous = None
        elif fence is None:
            atx = _ATX.match(content)
            setext = _SETEXT.match(content)
            if atx:
                headings.append((offset, len(atx.group(1)), atx.group(2).strip()))
                previous = None
            elif setext and previous is not None and previous[1].strip():
                level = 1 if setext.group(1)[0] == "=" else 2
                headings.append((previous[0], level, previous[1].strip()))
                previous = None
            else:
                previous = (offset, content) if content.strip() else None
        offset += len(line)
    return headings
