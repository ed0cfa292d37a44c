"""Untrusted text made safe for Discord: escaped so it renders literally and cannot ping, and
shortened to a width budget without cutting a word or a grapheme cluster.

Escaping only inserts characters (backslashes before markdown, a zero-width space after an "@"
that would start a mention), so offsets into the original text stay easy to map. Widths are
counted in UTF-16 code units, never less than code points, so a budget holds whichever unit
Discord counts (its documentation does not say). Shortening keeps the highlight (the sentence
that answers) and cuts between words, or between characters of scripts written without spaces;
cuts are marked with "…". Pure functions; no discord import.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import regex

from bot.shared.text import ELLIPSIS

ZWSP = "\u200b"
# A run of non-space characters longer than this (a URL, a hash, junk) may be cut between
# graphemes; shorter runs are words and are kept whole.
MAX_WORD_GRAPHEMES = 40

_GRAPHEME = regex.compile(r"\X")
# Scripts written without spaces between words: a cut between two of their characters is fine.
_NO_SPACE = (
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]"
)
# Whitespace exactly as str.isspace() sees it (regex's \s leaves out U+001C..U+001F).
_WS = r"[\s\x1c-\x1f]"
# Units, in grapheme clusters: a run of clusters starting with whitespace, one cluster of a script
# without spaces, or a word (a run of other clusters).
_UNIT = regex.compile(
    rf"(?P<space>(?:(?={_WS})\X)+)|(?P<glyph>(?={_NO_SPACE})\X)|(?P<word>(?:(?!{_WS}|{_NO_SPACE})\X)+)"
)
_SPECIAL = regex.compile(r"[\\|`\[<*~_@＠﹫]")
# Underscores are left alone inside URLs (Discord does not parse markdown there), so links work.
_URL = regex.compile(r"https?://[^\s<]*[^\s<.,:;\"')\]]")
_LINE_MARKUP = regex.compile(rf"(?m)^(?:(?!\n){_WS})*(?:(?P<mark>[>#\-+])|\d+(?P<dot>\.))")
_MENTION_WORD = regex.compile(r"(?i)(?:everyone|here|[!&]?\d)")
_AT_SIGNS = frozenset("@＠﹫")
_NON_SPACE = regex.compile(rf"(?!{_WS}).", regex.DOTALL)


def width(text: str) -> int:
    """Length as Discord may count it at worst: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape(text: str, *, bold: Sequence[tuple[int, int]] = ()) -> str:
    """`text` made inert as Discord markdown and mentions, with `bold` spans (offsets into
    `text`) wrapped in `**`.

    Markdown characters are backslash-escaped (Discord renders a backslash before punctuation as
    the literal character); so are block quotes, headings, subtext and list markers at the start
    of a line, and `<`, so no `<@id>`, `<#id>`, `<t:…>` or `</cmd:id>` form survives. A zero-width
    space follows any `@` that would start a mention. Underscores inside URLs are left alone so
    links still work. Escaping only inserts characters, so offsets map simply.
    """
    # What goes before text[i], in this order: a ZWSP after a mention's "@", closing and opening
    # bold markers, then the backslash escaping text[i] itself.
    zwsp: set[int] = set()
    closing: dict[int, int] = {}
    opening: dict[int, int] = {}
    backslash: set[int] = set()
    for start, end in bold:
        if start < end:
            opening[start] = opening.get(start, 0) + 1
            closing[end] = closing.get(end, 0) + 1
    for m in _LINE_MARKUP.finditer(text):
        backslash.add(m.start("mark") if m.group("mark") else m.start("dot"))
    urls = [m.span() for m in _URL.finditer(text)] if "_" in text else []
    url_starts = [span[0] for span in urls]
    for m in _SPECIAL.finditer(text):
        i, char = m.start(), m.group()
        if char in _AT_SIGNS:
            if _MENTION_WORD.match(text, i + 1):
                zwsp.add(i + 1)
        elif char == "_":
            k = bisect.bisect_right(url_starts, i) - 1
            if not (k >= 0 and urls[k][0] <= i < urls[k][1]):
                backslash.add(i)
        else:
            backslash.add(i)
    out: list[str] = []
    previous = 0
    for i in sorted(zwsp | closing.keys() | opening.keys() | backslash):
        out.append(text[previous:i])
        if i in zwsp:
            out.append(ZWSP)
        out.append("**" * closing.get(i, 0) + "**" * opening.get(i, 0))
        if i in backslash:
            out.append("\\")
        previous = i
    out.append(text[previous:])
    return "".join(out)


class _Unit(NamedTuple):
    """A piece of a passage that is never cut: a word, a run of spaces, or one grapheme."""

    start: int
    end: int
    space: bool


def _units(text: str, pos: int = 0, endpos: int | None = None) -> list[_Unit]:
    units: list[_Unit] = []
    for match in _UNIT.finditer(text, pos, len(text) if endpos is None else endpos):
        start, end = match.span()
        if match.lastgroup == "space":
            # A mark fused to a space (" \U0001f3fb") is one grapheme but shows a glyph: a word.
            units.append(_Unit(start, end, not text[start:end].strip()))
        elif match.lastgroup == "word" and end - start > MAX_WORD_GRAPHEMES:
            clusters = [m.span() for m in _GRAPHEME.finditer(text, start, end)]
            if len(clusters) > MAX_WORD_GRAPHEMES:
                units.extend(_Unit(s, e, False) for s, e in clusters)
            else:
                units.append(_Unit(start, end, False))
        else:
            units.append(_Unit(start, end, False))
    return units


def _snap(starts: Sequence[int], ends: Sequence[int], offset: int, *, up: bool) -> int:
    """Index of the unit boundary at or around `offset` (down for a start, up for an end)."""
    index = bisect.bisect_right(starts, offset) - 1  # the unit containing offset
    if index < 0:
        return 0
    if starts[index] == offset or (not up and offset < ends[index]):
        return index
    return index + 1


@dataclass(frozen=True, slots=True)
class Passage:
    """A rendered passage and the span [start, end) of the original text that it shows."""

    content: str
    start: int
    end: int


def render_passage(text: str, highlight: tuple[int, int] | None, budget: int) -> str:
    """`text` as block-quote lines of at most `budget` width, the highlight (offsets into `text`)
    in bold, shortened around it when needed."""
    return fit_passage(text, highlight, budget).content


def fit_passage(text: str, highlight: tuple[int, int] | None, budget: int) -> Passage:
    """The longest window of whole units around the highlight whose rendering fits `budget`.

    The window grows from the highlight outwards (binary search over the growth steps); when the
    highlight alone does not fit, its beginning is kept. When not even one unit fits, the result
    is a bare ellipsis.
    """
    anchor = min(len(text), max(0, highlight[0])) if highlight else 0
    left, right = _region(text, anchor, budget)
    units = _units(text, left, right)
    words = [i for i, unit in enumerate(units) if not unit.space]
    if not words:  # only whitespace, or marks fused to whitespace into one grapheme
        return Passage("> " + ELLIPSIS if text.strip() else ">", 0, 0)
    if highlight is None:
        h_a = h_b = 0
    else:
        starts = [unit.start for unit in units]
        ends = [unit.end for unit in units]
        h_a = _snap(starts, ends, max(0, highlight[0]), up=False)
        h_b = max(h_a, _snap(starts, ends, min(len(text), highlight[1]), up=True))
    hl = (units[h_a].start, units[h_b - 1].end) if h_b > h_a else None
    # Words outside the region count as left out: the ellipsis must show them.
    first_word = -1 if _NON_SPACE.search(text, 0, left) else words[0]
    last_word = len(units) if _NON_SPACE.search(text, right) else words[-1]

    def window(a: int, b: int) -> Passage:
        return _block(text, units, a, b, hl, first_word, last_word)

    def fits(a: int, b: int) -> bool:
        return width(window(a, b).content) <= budget

    # Every non-space character is rendered at least once: skip the full rendering of a passage
    # that cannot possibly fit.
    if visible_chars(text) <= budget and fits(0, len(units)):
        return window(0, len(units))
    if h_b > h_a and fits(h_a, h_b):
        steps = _expansion(h_a, h_b, len(units))
        lo, hi = 0, len(steps)  # the first `lo` steps are known to fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(*steps[mid - 1]):
                lo = mid
            else:
                hi = mid - 1
        return window(*(steps[lo - 1] if lo else (h_a, h_b)))
    # The highlight alone is too long (or there is none): keep its beginning.
    first = h_a if h_b > h_a else 0
    lo, hi = 0, len(units) - first
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(first, first + mid):
            lo = mid
        else:
            hi = mid - 1
    if lo and fits(first, first + lo):
        return window(first, first + lo)
    return Passage("> " + ELLIPSIS, units[first].start, units[first].start)


def _region(text: str, anchor: int, budget: int) -> tuple[int, int]:
    """A span around `anchor` that holds every window of at most `budget` width containing it,
    cut just before whitespace (a grapheme and unit boundary), so a long passage is segmented
    only near the highlight. The whole text when no such cut is near (one enormous word)."""
    if visible_chars(text) <= budget:
        return 0, len(text)
    right = _scan(text, anchor, budget, 1)
    left = _scan(text, anchor - 1, budget, -1)
    if right is None or left is None:
        return 0, len(text)
    return left, right


def _scan(text: str, i: int, budget: int, step: int) -> int | None:
    """From i in direction `step`: the first whitespace after more than `budget` non-space
    characters (the text's end if there is none), or None if a word is too long to find one."""
    seen = 0
    while 0 <= i < len(text):
        if not text[i].isspace():
            seen += 1
            if seen > budget + 4 * MAX_WORD_GRAPHEMES:
                return None
        elif seen > budget and not (step < 0 and text[i] == "\n" and text[i - 1 : i] == "\r"):
            return i
        i += step
    return len(text) if step > 0 else 0


def visible_chars(text: str) -> int:
    """Characters that are not whitespace: each is rendered at least once."""
    return sum(map(len, text.split()))


def _expansion(a: int, b: int, n: int) -> list[tuple[int, int]]:
    """Windows growing from [a, b) one unit at a time, two to the right for one to the left
    (what follows the answering sentence is usually more useful than what precedes it)."""
    steps = []
    turn = 0
    while a > 0 or b < n:
        if (turn % 3 != 2 and b < n) or a == 0:
            b += 1
        else:
            a -= 1
        turn += 1
        steps.append((a, b))
    return steps


def _block(
    text: str,
    units: Sequence[_Unit],
    a: int,
    b: int,
    hl: tuple[int, int] | None,
    first_word: int,
    last_word: int,
) -> Passage:
    """Units [a, b) of `text` as `> ` lines, trimmed, with "…" where words were left out."""
    while a < b and units[a].space:
        a += 1
    while b > a and units[b - 1].space:
        b -= 1
    if a >= b:
        at = units[a].start if a < len(units) else len(text)
        return Passage("> " + ELLIPSIS, at, at)
    start, end = units[a].start, units[b - 1].end
    lead = ELLIPSIS if a > first_word else ""
    trail = ELLIPSIS if b - 1 < last_word else ""
    lines: list[str] = []
    offset = start
    for raw in text[start:end].split("\n"):
        line_start, line_end = offset, offset + len(raw.rstrip())
        offset += len(raw) + 1
        if not raw.strip():
            if lines and lines[-1] != ">":
                lines.append(">")
            continue
        bold = []
        if hl is not None:
            s, e = max(hl[0], line_start), min(hl[1], line_end)
            piece = text[s:e] if s < e else ""
            if piece.strip():
                s += len(piece) - len(piece.lstrip())
                e -= len(piece) - len(piece.rstrip())
                bold.append((s - line_start, e - line_start))
        lines.append("> " + escape(text[line_start:line_end], bold=bold))
    lines[0] = "> " + lead + lines[0][2:]
    lines[-1] = lines[-1] + trail
    return Passage("\n".join(lines), start, end)


def shorten(text: str, budget: int) -> str:
    """Plain `text` escaped and cut at a word boundary (with "…") to fit `budget`."""
    full = escape(text)
    if width(full) <= budget:
        return full
    units = _units(text)
    lo, hi = 0, len(units)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width(escape(text[: units[mid - 1].end].rstrip()) + ELLIPSIS) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return (escape(text[: units[lo - 1].end].rstrip()) if lo else "") + ELLIPSIS


def strip_mentions(text: str, user_id: int | None) -> str:
    """`text` without mentions of `user_id` (both forms, `<@id>` and `<@!id>`), whitespace runs
    collapsed to one space: the question a message or a message's text asks the bot. With no
    user (the bot not logged in yet) only the whitespace is collapsed."""
    if user_id is not None:
        for form in (f"<@{user_id}>", f"<@!{user_id}>"):
            text = text.replace(form, " ")
    return " ".join(text.split())
