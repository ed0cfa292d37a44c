"""Answers as Discord message content: within Discord's limits, inert as markdown, unable to ping.

Quoted passages are untrusted text (anyone who can put a file in the knowledge folder controls
them), so everything that comes from a document, a file name or a user is escaped before it is
sent: markdown, masked links, code fences, headings, lists, spoilers and mentions render as the
literal characters. The client also sends `allowed_mentions` with `parse: []`; escaping here is
the second layer.

Lengths are counted in UTF-16 code units, which is never less than the number of code points, so
the budget holds whichever unit Discord counts (its documentation does not say). Shortening keeps
the sentence that answers (the highlight) and cuts at word boundaries, or between characters of
scripts written without spaces, never inside a grapheme cluster; cuts are marked with "…".

Pure functions over the core's data; no discord import, so this module is cheap to test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import regex

from bot.answer import Answer, Quote
from bot.index import DocumentRecord
from bot.indexing import UpdateReport

CONTENT_LIMIT = 2000  # Discord rejects longer message content with HTTP 400 (code 50035)
CONTENT_BUDGET = 1900  # what we allow ourselves: a margin under the hard limit
ELLIPSIS = "…"
ZWSP = "\u200b"
MAX_QUOTES = 3
# A run of non-space characters longer than this (a URL, a hash, junk) may be cut between
# graphemes; shorter runs are words and are kept whole.
MAX_WORD_GRAPHEMES = 40
QUESTION_BUDGET = 300

_GRAPHEME = regex.compile(r"\X")
# Scripts written without spaces between words: a cut between two of their characters is fine.
_NO_SPACE_SCRIPT = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]"
)
_ALWAYS_ESCAPED = frozenset("\\|`[<")
_EMPHASIS = frozenset("*_~")  # left alone inside URLs, where Discord does not parse them
_URL = regex.compile(r"https?://[^\s<]+")
_LINE_MARKUP = regex.compile(r"(?m)^[^\S\n]*(?:(?P<mark>[>#\-+])|\d+(?P<dot>\.))")
_MENTION_WORD = regex.compile(r"(?i)(?:everyone|here|[!&]?\d)")
_AT_SIGNS = frozenset("@＠﹫")


def width(text: str) -> int:
    """Length as Discord may count it at worst: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape(text: str, *, bold: Sequence[tuple[int, int]] = ()) -> str:
    """`text` made inert as Discord markdown and mentions, with `bold` spans (offsets into
    `text`) wrapped in `**`.

    Markdown characters are backslash-escaped (Discord renders a backslash before punctuation as
    the literal character); so are block quotes, headings, subtext and list markers at the start
    of a line, and `<`, so no `<@id>`, `<#id>`, `<t:…>` or `</cmd:id>` form survives. A zero-width
    space follows any `@` that would start a mention. Emphasis characters inside URLs are left
    alone so links still work.
    """
    marks: dict[int, str] = {}
    for start, end in bold:
        if start < end:
            marks[start] = marks.get(start, "") + "**"
            marks[end] = "**" + marks.get(end, "")
    escaped_at = {m.start("mark") if m.group("mark") else m.start("dot")
                  for m in _LINE_MARKUP.finditer(text)}
    in_url = bytearray(len(text))
    for m in _URL.finditer(text):
        in_url[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    out: list[str] = []
    for i, char in enumerate(text):
        if i in marks:
            out.append(marks[i])
        if (
            char in _ALWAYS_ESCAPED
            or (char in _EMPHASIS and not in_url[i])
            or i in escaped_at
        ):
            out.append("\\")
        out.append(char)
        if char in _AT_SIGNS and _MENTION_WORD.match(text, i + 1):
            out.append(ZWSP)
    out.append(marks.get(len(text), ""))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of a passage that is never cut: a word, a run of spaces, or one grapheme."""

    start: int
    end: int
    space: bool


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    run: list[tuple[int, int]] = []  # graphemes of the current word

    def flush() -> None:
        if len(run) > MAX_WORD_GRAPHEMES:
            units.extend(_Unit(s, e, False) for s, e in run)
        elif run:
            units.append(_Unit(run[0][0], run[-1][1], False))
        run.clear()

    for match in _GRAPHEME.finditer(text):
        start, end = match.span()
        if match.group()[0].isspace():
            flush()
            if units and units[-1].space:
                units[-1] = _Unit(units[-1].start, end, True)
            else:
                units.append(_Unit(start, end, True))
        elif _NO_SPACE_SCRIPT.match(match.group()):
            flush()
            units.append(_Unit(start, end, False))
        else:
            run.append((start, end))
    flush()
    return units


def _snap(units: Sequence[_Unit], offset: int, *, up: bool) -> int:
    """Index of the unit boundary at or around `offset` (down for a start, up for an end)."""
    for index, unit in enumerate(units):
        if unit.start >= offset:
            return index
        if unit.end > offset:
            return index + 1 if up else index
    return len(units)


def render_passage(text: str, highlight: tuple[int, int] | None, budget: int) -> str:
    """`text` as block-quote lines of at most `budget` width, the highlight (offsets into `text`)
    in bold, shortened around it when needed."""
    units = _units(text)
    if not units:
        return ">"
    if highlight is None:
        h_a = h_b = 0
    else:
        h_a = _snap(units, max(0, highlight[0]), up=False)
        h_b = max(h_a, _snap(units, min(len(text), highlight[1]), up=True))
    hl = (units[h_a].start, units[h_b - 1].end) if h_b > h_a else None

    def window(a: int, b: int) -> str:
        return _block(text, units, a, b, hl)

    full = window(0, len(units))
    if width(full) <= budget:
        return full
    if h_b > h_a and width(window(h_a, h_b)) <= budget:
        steps = _expansion(h_a, h_b, len(units))
        lo, hi = 0, len(steps)  # steps[:lo] fit; find the most that fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            a, b = steps[mid - 1]
            if width(window(a, b)) <= budget:
                lo = mid
            else:
                hi = mid - 1
        a, b = steps[lo - 1] if lo else (h_a, h_b)
        return window(a, b)
    # The highlight alone is too long (or there is none): keep its beginning.
    first = h_a if h_b > h_a else 0
    lo, hi = 0, len(units) - first
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width(window(first, first + mid)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return window(first, first + lo) if lo else "> " + ELLIPSIS


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
    text: str, units: Sequence[_Unit], a: int, b: int, hl: tuple[int, int] | None
) -> str:
    """Units [a, b) of `text` as `> ` lines, trimmed, with ellipses where text was left out."""
    while a < b and units[a].space:
        a += 1
    while b > a and units[b - 1].space:
        b -= 1
    if a >= b:
        return "> " + ELLIPSIS
    start, end = units[a].start, units[b - 1].end
    lead = ELLIPSIS if start > 0 else ""
    trail = ELLIPSIS if end < len(text) else ""
    lines: list[str] = []
    offset = start
    for raw in text[start:end].split("\n"):
        line_start, line_end = offset, offset + len(raw.rstrip())
        offset += len(raw) + 1
        if line_end == line_start or not raw.strip():
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
    return "\n".join(lines)


def source_line(quote: Quote) -> str:
    """Where a quote comes from, e.g. `— article.txt ¶5`."""
    return f"— {shorten(' '.join(quote.source.split()), 150)} ¶{quote.paragraph}"


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


def render_answer(
    answer: Answer, *, show_question: bool = False, budget: int = CONTENT_BUDGET
) -> str:
    """The whole reply to a question: one message of at most `budget` width (UTF-16 units).

    Up to three quotes as block quotes, the answering sentence in bold, each followed by its
    source; a declined question gets the service's friendly message instead.
    """
    head: list[str] = []
    if show_question:
        head.append("**Question:** " + shorten(answer.question, QUESTION_BUDGET))
    if answer.declined or not answer.quotes:
        text = answer.message or "I could not find that in my documents."
        used = sum(width(part) + 1 for part in head)
        return "\n".join([*head, shorten(text, max(1, budget - used))])
    if answer.message:
        head.append("-# " + shorten(answer.message, 300))
    quotes = list(answer.quotes[:MAX_QUOTES])
    while quotes:
        sources = [source_line(quote) for quote in quotes]
        # Fixed cost: head lines, source lines, and the line breaks between blocks.
        fixed = sum(width(part) + 1 for part in head) + sum(width(s) + 3 for s in sources)
        bodies = _fit(quotes, budget - fixed)
        blocks = [f"{body}\n{source}" for body, source in zip(bodies, sources, strict=True)]
        content = "\n".join([*head, "\n\n".join(blocks)])
        if width(content) <= budget:
            return content
        quotes.pop()  # only with a budget far below Discord's limit
    return shorten("\n".join(head), budget)


def _fit(quotes: Sequence[Quote], available: int) -> list[str]:
    """Share `available` width among the quotes: short ones take what they need, the rest split
    what is left evenly (water-filling), so one long passage cannot crowd out the others."""
    wanted = [width(_render_quote(q, 10**9)) for q in quotes]
    share: dict[int, int] = {}
    left, remaining = available, len(quotes)
    for index in sorted(range(len(quotes)), key=lambda i: wanted[i]):
        share[index] = min(wanted[index], left // remaining)
        left -= share[index]
        remaining -= 1
    return [_render_quote(q, share[i]) for i, q in enumerate(quotes)]


def _render_quote(quote: Quote, budget: int) -> str:
    highlight = None
    if quote.highlight is not None:
        highlight = (quote.highlight[0] - quote.start, quote.highlight[1] - quote.start)
    return render_passage(quote.text, highlight, budget)


def render_sources(records: Sequence[DocumentRecord], budget: int = CONTENT_BUDGET) -> str:
    """The indexed documents, one line each; the tail is summarised if it does not fit."""
    if not records:
        return "No documents are indexed yet."
    lines = [f"**{len(records)} indexed document{'s' if len(records) != 1 else ''}:**"]
    used = width(lines[0])
    for index, record in enumerate(sorted(records, key=lambda r: r.source)):
        line = (
            f"- {shorten(record.source, 200)} · {_size(record.size)} · "
            f"{record.chunks} passages · indexed {_when(record.indexed_at)}"
        )
        rest = len(records) - index
        if used + 1 + width(line) + width(f"\n… and {rest} more") > budget and rest > 1:
            lines.append(f"… and {rest} more")
            break
        lines.append(line)
        used += 1 + width(line)
    return "\n".join(lines)


def render_report(report: UpdateReport) -> str:
    """A re-index summary for the admin who asked for it."""
    text = "Index updated: " + report.summary() + "."
    if report.warnings:
        text += f"\n{len(report.warnings)} warning(s), e.g.: {report.warnings[0]}"
    return shorten(text, CONTENT_BUDGET)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # unreachable


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return shorten(iso, 40)
