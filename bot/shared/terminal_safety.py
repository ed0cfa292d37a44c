"""Make untrusted text inert before a terminal sees it.

Documents, file names, titles and questions can hold characters a terminal obeys: OSC 52 writes
the clipboard, CSI 2J clears the screen, OSC 8 makes links, CR and bidi overrides hide or reorder
what is shown, and lone surrogates (undecodable file names) make printing fail. Every surface
that writes such text to a terminal passes it through `inert` (plain strings) or `inert_text`
(rich `Text`, never parsed as markup), which show each such character as a visible escape
(`\\x1b`, `\\x9b`, `\\u202e`); a whole escape sequence (CSI, OSC, DCS, SOS, PM, APC, other ESC
sequences, 7-bit or 8-bit) is one escaped piece, so `inert_text` can mark it as one.

Log records (the watcher's warnings, the Discord bot's log) go through `InertFormatter`.

Machine output keeps the exact text instead: JSON escapes controls itself, and `json_line`
escapes the few characters that JSON may carry raw (DEL, C1, bidi controls, surrogates).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

LAYOUT = "\n\t"  # what a body of text (a quote, a document) keeps: its line breaks and tabs
ESCAPE_STYLE = "reverse"  # how `inert_text` marks an escaped piece, so it reads as not-text

# Every C0 and C1 control, DEL, the bidi embeddings/overrides (U+202A-202E) and isolates
# (U+2066-2069), and surrogates (a str holds them only for undecodable bytes).
_UNSAFE_CLASS = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[{_UNSAFE_CLASS}]")
# ECMA-48: CSI = ESC [ or 0x9B, parameters 0x30-0x3F, intermediates 0x20-0x2F, a final 0x40-0x7E.
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
# Control strings (OSC ESC ] / 0x9D, DCS ESC P / 0x90, SOS ESC X / 0x98, PM ESC ^ / 0x9E,
# APC ESC _ / 0x9F) run to ST (ESC \ or 0x9C); BEL ends OSC in xterm; an ESC or the end of
# the text cuts an unterminated one.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
# Any other escape sequence: ESC, intermediates, one final byte (ESC c resets the terminal).
_ESCAPE = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_DANGER = re.compile(f"{_CSI}|{_STRING}|{_ESCAPE}|[{_UNSAFE_CLASS}]")


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def visible(char: str) -> str:
    """One character as its escape, as Python writes it: `\\x1b`, `\\r`, `\\x9b`, `\\u202e`."""
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def segments(text: str, keep: str = "") -> Iterator[tuple[str, bool]]:
    """`text` as (piece, escaped) pairs: safe runs as they are, each escape sequence (whole) or
    unsafe character escaped. Characters in `keep` (only \\n and \\t make sense) stay, and with
    \\n kept a CR right before it stays too (a CRLF line end moves the cursor nowhere odd)."""
    position = 0
    for match in _DANGER.finditer(text):
        piece, start, end = match.group(), match.start(), match.end()
        if piece in keep or (piece == "\r" and "\n" in keep and text.startswith("\n", end)):
            continue  # left in the surrounding safe run
        if start > position:
            yield text[position:start], False
        yield _UNSAFE.sub(lambda m: visible(m.group()), piece), True
        position = end
    if position < len(text):
        yield text[position:], False


def inert(text: str, keep: str = "") -> str:
    """`text` with every control, bidi override and escape sequence shown as a visible escape;
    one line unless `keep` holds \\n (pass LAYOUT for a body of text)."""
    if not _UNSAFE.search(text):
        return text
    return "".join(piece for piece, _ in segments(text, keep))


def inert_text(text: str, style: str = "", keep: str = "") -> Text:
    """A rich `Text` of `inert(text, keep)`: never read as markup or emoji codes, escaped pieces
    styled ESCAPE_STYLE on top of `style`."""
    from rich.text import Text

    result = Text(style=style)
    for piece, escaped in segments(text, keep):
        result.append(piece, ESCAPE_STYLE if escaped else None)
    return result


# What JSON may carry raw that a terminal would obey or cannot print (json escapes C0 itself).
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_line(data: Any) -> str:
    """`data` as one JSON line, non-ASCII kept readable but every character a terminal would
    obey escaped as \\uXXXX: the decoded text is exactly `data`'s."""
    raw = json.dumps(data, ensure_ascii=False)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", raw)


class InertFormatter(logging.Formatter):
    """Log lines made inert: a record's message is one line (file names, questions and user
    names in it cannot break it or drive the terminal); a traceback keeps its line breaks."""

    def format(self, record: logging.LogRecord) -> str:
        clean = logging.makeLogRecord(record.__dict__)
        clean.msg, clean.args = inert(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            clean.exc_text = self.formatException(record.exc_info)
        if clean.exc_text:
            clean.exc_text = inert(clean.exc_text, LAYOUT)
        if clean.stack_info:
            clean.stack_info = inert(clean.stack_info, LAYOUT)
        return super().format(clean)


def inert_last_resort() -> None:
    """Records that no handler takes (WARNING and up, e.g. the watcher's) reach stderr through
    logging's last-resort handler: made inert, nothing else changes (libraries that install a
    NullHandler stay silent)."""
    if logging.lastResort is not None:
        logging.lastResort.setFormatter(InertFormatter())


def log_to_stderr(level: int, fmt: str = "%(message)s") -> None:
    """Send log records to stderr through InertFormatter (instead of logging's last-resort
    handler, which prints them raw); left alone when the root logger already has handlers."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)
