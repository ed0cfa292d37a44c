"""PDF text rebuilt from glyph positions: columns in order, no page furniture, whole paragraphs.

pypdf's plain and layout modes both lose the structure a quote needs (layout mode interleaves two
columns line by line). Instead the `visitor_text` callback reports every text run with its position;
runs are grouped into columns and lines here, running headers/footers that repeat across pages are
dropped, and lines are re-joined into paragraphs using the vertical gaps, first-line indents and
font sizes, across column and page breaks. End-of-line hyphens are undone where the document itself
shows the word unhyphenated (or the next line starts in lower case); ligature characters are
mapped one by one (NFKC on the whole text would also rewrite characters that quotes must keep).
"""

from __future__ import annotations

import io
import itertools
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from bot.ingest.extraction.base import (
    Extracted,
    ExtractionFailed,
    TextBuilder,
    collapse_spaces,
    is_chrome_line,
    section_spans,
)

MAX_PAGES = 2000
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "\u00ad": "-"}
)
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?(?:#|[ivxlc]{1,4})(?:\s*(?:of|/)\s*#)?$|^-\s*#\s*-$", re.IGNORECASE
)
_URL = re.compile(r"^https?://\S+$")
_SENTENCE_END = tuple('.!?:;"”’)')
_WORD_TAIL = re.compile(r"(\w+)-$")
_WORD_HEAD = re.compile(r"^(\w+)")


@dataclass(slots=True)
class _Line:
    page: int  # 1-based
    column: int
    x: float
    y: float  # baseline, PDF units from the bottom
    size: float
    text: str


def extract_pdf(data: bytes) -> Extracted:
    """Quotable text of a PDF with page spans; raises ExtractionFailed with the reason."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not _decrypt_empty(reader):
            raise ExtractionFailed("encrypted PDF (it needs a password)")
        page_count = len(reader.pages)
    except ExtractionFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionFailed(f"corrupt or truncated PDF ({_short(exc)})") from None
    if page_count == 0:
        raise ExtractionFailed("the PDF has no pages")
    if page_count > MAX_PAGES:
        raise ExtractionFailed(f"PDF has {page_count} pages; the limit is {MAX_PAGES}")
    lines: list[_Line] = []
    heights: dict[int, float] = {}
    for number, page in enumerate(reader.pages, start=1):
        try:
            heights[number] = float(page.mediabox.height)
            lines.extend(_page_lines(page, number))
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise ExtractionFailed(f"corrupt PDF page {number} ({_short(exc)})") from None
    if not any(line.text.strip() for line in lines):
        raise ExtractionFailed("the PDF has no text layer (a scan?); OCR is not supported")
    lines, furniture = _drop_furniture(lines, page_count)
    builder, pages = _assemble(lines)
    text = builder.text()
    if not text.strip():
        raise ExtractionFailed("the PDF has no text besides headers and footers")
    info = _metadata(reader)
    url = next((w for f in furniture for w in f.split() if _URL.match(w)), None)
    return Extracted(
        text=text,
        format="pdf",
        title=info.get("title"),
        date=info.get("date"),
        url=url,
        author=info.get("author"),
        pages=pages,
        sections=section_spans(builder.headings, len(text)),
    )


def _decrypt_empty(reader: object) -> bool:
    """Many PDFs are 'encrypted' with an empty user password only to restrict printing."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:
        return False


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _page_lines(page: object, number: int) -> list[_Line]:
    runs: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = (tm[3] ** 2 + tm[2] ** 2) ** 0.5 * (cm[3] ** 2 + cm[2] ** 2) ** 0.5
        for i, part in enumerate(text.split("\n")):
            if part.strip():
                runs.append((x, y - i * size * scale * 1.2, size * (scale or 1.0), part))

    page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    width = float(page.mediabox.width)  # type: ignore[attr-defined]
    starts = _column_starts([r[0] for r in runs], width)
    lines: list[_Line] = []
    by_key: dict[tuple[int, int], _Line] = {}
    for x, y, size, text in runs:
        column = sum(1 for s in starts[1:] if x >= s - 2)
        key = (column, round(y / max(size * 0.4, 1.0)))
        line = by_key.get(key)
        if line is None:
            line = _Line(number, column, x, y, size, text)
            by_key[key] = line
            lines.append(line)
        else:
            joiner = "" if line.text.endswith(" ") or text.startswith(" ") else " "
            if x < line.x:
                line.text, line.x = text + joiner + line.text, x
            else:
                line.text += joiner + text
    for line in lines:
        line.text = collapse_spaces(line.text.translate(_LIGATURES)).strip()
    lines.sort(key=lambda ln: (ln.column, -ln.y, ln.x))
    return [ln for ln in lines if ln.text]


def _column_starts(xs: list[float], width: float) -> list[float]:
    """Left edges of text columns: x positions where many lines start, far enough apart."""
    counts = Counter(round(x / 4) * 4 for x in xs)
    frequent = sorted(x for x, n in counts.items() if n >= max(4, len(xs) // 10))
    starts: list[float] = []
    for x in frequent:
        if not starts or x - starts[-1] >= width * 0.25:
            starts.append(x)
    return starts or [0.0]


def _drop_furniture(lines: list[_Line], page_count: int) -> tuple[list[_Line], list[str]]:
    """Remove running headers/footers and page numbers; returns (kept lines, removed texts).

    A running header is one of the first or last two lines of a page whose text (digits masked,
    so `Page 3 of 5` matches `Page 4 of 5`) comes back at the same height on at least half of
    the pages. A lone page number at the top or bottom goes even when it does not repeat.
    """
    by_page: dict[int, list[_Line]] = {}
    for line in lines:
        by_page.setdefault(line.page, []).append(line)
    edges: list[_Line] = []
    for page_lines in by_page.values():
        ordered = sorted(page_lines, key=lambda ln: -ln.y)
        edges.extend({id(ln): ln for ln in ordered[:2] + ordered[-2:]}.values())
    seen = {(ln.page, _mask(ln.text), round(ln.y / 3)) for ln in edges}
    per_key = Counter((masked, height) for _, masked, height in seen)
    needed = max(2, (page_count + 1) // 2)
    dropped: set[int] = set()
    furniture: list[str] = []
    for line in edges:
        masked = _mask(line.text)
        if (page_count > 1 and per_key[(masked, round(line.y / 3))] >= needed) or (
            _PAGE_NUMBER.match(masked)
        ):
            dropped.add(id(line))
            furniture.append(line.text)
    kept = [ln for ln in lines if id(ln) not in dropped and not is_chrome_line(ln.text)]
    return kept, furniture


def _mask(text: str) -> str:
    return re.sub(r"\d+", "#", text.casefold().strip())


def _assemble(lines: list[_Line]) -> tuple[TextBuilder, tuple[tuple[int, int, int], ...]]:
    """Join lines into paragraphs; returns the text builder and the page spans."""
    body_size = _mode([round(ln.size, 1) for ln in lines])
    spacing = _line_spacing(lines, body_size)
    left = _column_lefts(lines)
    vocabulary = _vocabulary(lines)
    heading_sizes = sorted({round(ln.size, 1) for ln in lines if ln.size > body_size + 0.9})[::-1]
    builder = TextBuilder()
    page_starts: list[tuple[int, int]] = []  # (offset, page) where a page's text begins
    paragraph: list[_Line] = []

    def flush() -> None:
        if not paragraph:
            return
        pieces = _join_lines(paragraph, vocabulary)
        offset = builder.length + (2 if builder.parts else 0)
        for line, piece_start in pieces[1]:
            if not page_starts or page_starts[-1][1] != line.page:
                page_starts.append((offset + piece_start, line.page))
        size = round(paragraph[0].size, 1)
        if size in heading_sizes and len(pieces[0]) <= 150:
            builder.add_heading(pieces[0], heading_sizes.index(size) + 1)
        else:
            builder.add(pieces[0])
        paragraph.clear()

    for line in lines:
        if paragraph and _starts_paragraph(paragraph[-1], line, body_size, spacing, left):
            flush()
        paragraph.append(line)
    flush()
    text_length = builder.length
    pages: list[tuple[int, int, int]] = []
    for i, (start, page) in enumerate(page_starts):
        end = page_starts[i + 1][0] if i + 1 < len(page_starts) else text_length
        if i == 0:
            start = 0
        if end > start:
            pages.append((start, end, page))
    return builder, tuple(pages)


def _starts_paragraph(
    prev: _Line, line: _Line, body: float, spacing: float, left: dict[tuple[int, int], float]
) -> bool:
    if abs(line.size - prev.size) > 0.9:
        return True
    indented = line.x > left.get((line.page, line.column), line.x) + line.size * 0.8
    if (line.page, line.column) != (prev.page, prev.column):
        # A column or page break: the paragraph goes on unless the last line closed a sentence
        # and the new one starts a fresh one.
        ended = prev.text.endswith(_SENTENCE_END)
        return indented or (ended and not line.text[:1].islower())
    gap = prev.y - line.y
    if gap > spacing * 1.3 or gap < 0:
        return True
    return indented


def _join_lines(lines: list[_Line], vocabulary: set[str]) -> tuple[str, list[tuple[_Line, int]]]:
    """One paragraph string; also where each line starts in it (for page spans)."""
    text = ""
    starts: list[tuple[_Line, int]] = []
    for line in lines:
        piece = line.text
        if not text:
            starts.append((line, 0))
            text = piece
            continue
        tail = _WORD_TAIL.search(text)
        head = _WORD_HEAD.match(piece)
        if tail and head and _dehyphenate(tail.group(1), head.group(1), vocabulary):
            text = text[:-1]
            starts.append((line, len(text)))
            text += piece
        elif text.endswith(("-", "/", "–")) and head:
            starts.append((line, len(text)))
            text += piece
        else:
            starts.append((line, len(text) + 1))
            text += " " + piece
    return text, starts


def _dehyphenate(before: str, after: str, vocabulary: set[str]) -> bool:
    """Is `before-` + `after` one word broken at the line end (not a real hyphenated compound)?"""
    joined = (before + after).casefold()
    if joined in vocabulary:
        return True
    if f"{before}-{after}".casefold() in vocabulary:
        return False
    return after[:1].islower()


def _vocabulary(lines: list[_Line]) -> set[str]:
    words: set[str] = set()
    for line in lines:
        words.update(w.casefold() for w in re.findall(r"\w+(?:-\w+)*", line.text))
    return words


def _mode(values: list[float]) -> float:
    return Counter(values).most_common(1)[0][0] if values else 10.0


def _line_spacing(lines: list[_Line], body: float) -> float:
    gaps = [
        a.y - b.y
        for a, b in itertools.pairwise(lines)
        if (a.page, a.column) == (b.page, b.column)
        and abs(a.size - body) < 0.5
        and abs(b.size - body) < 0.5
        and 0 < a.y - b.y < body * 3
    ]
    return statistics.median(gaps) if gaps else body * 1.2


def _column_lefts(lines: list[_Line]) -> dict[tuple[int, int], float]:
    """The usual left edge of each column on each page (the most common line start)."""
    xs: dict[tuple[int, int], list[float]] = {}
    for line in lines:
        xs.setdefault((line.page, line.column), []).append(round(line.x, 0))
    return {key: _mode(values) for key, values in xs.items()}


def _metadata(reader: object) -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
    except Exception:
        return info
    if not meta:
        return info
    for key, name in (("/Title", "title"), ("/Author", "author")):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            info[name] = collapse_spaces(value).strip()
    for key in ("/CreationDate", "/ModDate"):
        raw = meta.get(key)
        match = re.match(r"^(?:D:)?(\d{4})(\d{2})(\d{2})", str(raw or ""))
        if match:
            info["date"] = "-".join(match.groups())
            break
    return info
