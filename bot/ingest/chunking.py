"""Split a document into passages that can be quoted: exact offsets, whole sentences, whole words.

The shape of a passage follows the document: a paragraph that fits is one chunk; a long paragraph is
cut at sentence boundaries into balanced parts that overlap by up to `overlap_chars`; a run of short
paragraphs or lines (a headline, a dateline, a list of names) is packed together until it reaches
`min_chars`, instead of becoming many one-word chunks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.shared.text import sentence_spans, trim_span

CHUNKER_VERSION = 1

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_NEWLINE = re.compile(r"\n")
_SENTENCE_FINAL = ".!?:;。！？\"'”’)"
# A line shorter than this that ends without sentence punctuation is a line of its own (a heading,
# a name in a list), not a wrapped part of the next sentence.
_SHORT_LINE = 60


@dataclass(frozen=True, slots=True)
class ChunkerSettings:
    max_chars: int = 700
    overlap_chars: int = 120
    min_chars: int = 200

    def __post_init__(self) -> None:
        if self.max_chars < 50:
            raise ValueError("max_chars must be at least 50")
        if not 0 <= self.overlap_chars < self.max_chars // 2:
            raise ValueError("overlap_chars must be between 0 and max_chars / 2")
        if not 0 <= self.min_chars <= self.max_chars:
            raise ValueError("min_chars must be between 0 and max_chars")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of one document: `text == document_text[start:end]`, always."""

    source: str
    start: int
    end: int
    text: str
    paragraph: int  # 1-based number of the paragraph the passage starts in


@dataclass(frozen=True, slots=True)
class _Atom:
    """An unbreakable piece: a sentence, a short line, or a word-bounded slice of a huge sentence."""

    start: int
    end: int
    paragraph: int


def chunk_text(source: str, text: str, settings: ChunkerSettings) -> list[Chunk]:
    """Chunks of `text` in document order; every chunk is a verbatim slice with exact offsets."""
    parts: list[list[_Atom]] = []
    for paragraph_no, (start, end) in enumerate(_paragraph_spans(text), start=1):
        atoms = list(_atoms(text, start, end, paragraph_no, settings.max_chars))
        parts.extend(_split_paragraph(atoms, settings))
    return [
        _make_chunk(source, text, group)
        for group in _pack_short_parts(parts, settings.min_chars, settings.max_chars)
    ]


def paragraph_number(text: str, offset: int) -> int:
    """1-based number of the paragraph containing `offset` (as chunk_text counts them)."""
    number = 0
    for number, (_, end) in enumerate(_paragraph_spans(text), start=1):
        if offset < end:
            return number
    return max(number, 1)


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in _BLANK_LINE.finditer(text):
        span = trim_span(text, cursor, match.start())
        if span:
            spans.append(span)
        cursor = match.end()
    span = trim_span(text, cursor, len(text))
    if span:
        spans.append(span)
    return spans


def _line_segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a paragraph at hard line breaks; keep soft-wrapped lines of a sentence together."""
    segments: list[tuple[int, int]] = []
    seg_start = start
    for match in _NEWLINE.finditer(text, start, end):
        line = text[seg_start : match.start()].rstrip()
        last_line = line.rsplit("\n", 1)[-1].strip()
        if len(last_line) < _SHORT_LINE or last_line.endswith(tuple(_SENTENCE_FINAL)):
            span = trim_span(text, seg_start, match.start())
            if span:
                segments.append(span)
            seg_start = match.end()
    span = trim_span(text, seg_start, end)
    if span:
        segments.append(span)
    return segments


def _atoms(text: str, start: int, end: int, paragraph: int, max_chars: int) -> list[_Atom]:
    atoms: list[_Atom] = []
    for seg_start, seg_end in _line_segments(text, start, end):
        for s_start, s_end in sentence_spans(text, seg_start, seg_end):
            atoms.extend(
                _Atom(a, b, paragraph) for a, b in _word_slices(text, s_start, s_end, max_chars)
            )
    return atoms


def _word_slices(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a span longer than max_chars at whitespace; a single huge 'word' is cut as a last resort."""
    slices: list[tuple[int, int]] = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars + 1)
        if cut <= start:
            cut = max((text.rfind(c, start + 1, start + max_chars + 1) for c in "\n\t"), default=-1)
        if cut <= start:
            cut = start + max_chars
            while cut > start + 1 and _is_continuation(text[cut]):
                cut -= 1  # never split a base character from its combining marks
        span = trim_span(text, start, cut)
        if span:
            slices.append(span)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    span = trim_span(text, start, end)
    if span:
        slices.append(span)
    return slices


def _is_continuation(ch: str) -> bool:
    import unicodedata

    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or ch in "\u200d\ufe0f"
        or ("\udc00" <= ch <= "\udfff")
    )


def _split_paragraph(atoms: list[_Atom], settings: ChunkerSettings) -> list[list[_Atom]]:
    """One part if the paragraph fits; otherwise balanced parts with sentence overlap."""
    if not atoms:
        return []
    if atoms[-1].end - atoms[0].start <= settings.max_chars:
        return [atoms]
    total = atoms[-1].end - atoms[0].start
    target = total / math.ceil(total / settings.max_chars)
    parts: list[list[_Atom]] = []
    current: list[_Atom] = []
    for atom in atoms:
        if current and (
            atom.end - current[0].start > settings.max_chars
            or atom.start - current[0].start >= target
        ):
            parts.append(current)
            current = _overlap_tail(current, atom, settings)
        current.append(atom)
    parts.append(current)
    return parts


def _overlap_tail(
    previous: list[_Atom], next_atom: _Atom, settings: ChunkerSettings
) -> list[_Atom]:
    """The trailing sentences of the previous part to repeat, within overlap and max_chars."""
    tail: list[_Atom] = []
    for atom in reversed(previous[1:]):
        if previous[-1].end - atom.start > settings.overlap_chars:
            break
        if next_atom.end - atom.start > settings.max_chars:
            break
        tail.insert(0, atom)
    return tail


def _pack_short_parts(
    parts: list[list[_Atom]], min_chars: int, max_chars: int
) -> list[list[_Atom]]:
    """Join consecutive parts while the open group is shorter than min_chars and all fits."""
    groups: list[list[_Atom]] = []
    for part in parts:
        if groups:
            last = groups[-1]
            open_short = last[-1].end - last[0].start < min_chars
            overlapping = part[0].start < last[-1].end
            if open_short and not overlapping and part[-1].end - last[0].start <= max_chars:
                last.extend(part)
                continue
        groups.append(list(part))
    return groups


def _make_chunk(source: str, text: str, atoms: list[_Atom]) -> Chunk:
    start, end = atoms[0].start, atoms[-1].end
    return Chunk(source, start, end, text[start:end], atoms[0].paragraph)
