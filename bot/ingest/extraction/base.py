"""The value every extractor returns, its error, and the text-assembly helpers they share.

Extractors build their text from *blocks* (a paragraph, a heading, a list) so that the offsets of
pages and sections are exact by construction: a span is recorded while the text is being joined,
never searched for afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Bump whenever any extractor's output for the same bytes may change: the index manifest records
# it, and a different value makes every extracted document be extracted again.
EXTRACTOR_VERSION = "formats-2"  # 2: web pages lose their own interface by structure
# Bump when a file that was refused may now be read while every readable file's text stays the
# same (text-2: non-UTF-8 text decoded by charset detection): skip records carry it, so refused
# files are examined again and nothing already indexed is re-extracted or re-embedded.
READER_VERSION = f"{EXTRACTOR_VERSION}/text-2"

SECTION_SEPARATOR = " › "


@dataclass(frozen=True, slots=True)
class Extracted:
    """The quotable text of one file and what is known about where it came from.

    `text` is what quote offsets refer to (`quotebot text SOURCE` prints it): paragraphs separated
    by one blank line, each passage-sized, without page furniture or site chrome.
    `pages` and `sections` are `(start, end, …)` spans into `text`, in order, not overlapping.
    """

    text: str
    format: str  # "text" | "markdown" | "html" | "pdf"
    title: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    url: str | None = None
    author: str | None = None
    pages: tuple[tuple[int, int, int], ...] = ()
    sections: tuple[tuple[int, int, str], ...] = ()
    encoding: str | None = None  # what a .txt/.md was decoded with ("utf-8", "cp1252" …)

    def page_at(self, offset: int) -> int | None:
        """The page number holding `offset`, or None for unpaged text."""
        for start, end, number in self.pages:
            if start <= offset < end:
                return number
        return None

    def section_at(self, offset: int) -> str | None:
        """The section path (`Setup › Linux`) holding `offset`, or None."""
        for start, end, path in self.sections:
            if start <= offset < end:
                return path
        return None


class ExtractionFailed(Exception):
    """A file that cannot be turned into quotable text; `str(exc)` is a one-line reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason.replace("\n", " ").strip())
        self.reason = str(self.args[0])


@dataclass(slots=True)
class TextBuilder:
    """Joins paragraphs with blank lines and records page and heading offsets as it goes."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    headings: list[tuple[int, int, str]] = field(default_factory=list)  # (offset, level, title)

    def add(self, paragraph: str) -> tuple[int, int]:
        """Append one paragraph (already clean); returns its span in the final text."""
        paragraph = paragraph.strip()
        if not paragraph:
            return (self.length, self.length)
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(paragraph)
        self.length += len(paragraph)
        return (start, self.length)

    def add_heading(self, title: str, level: int) -> None:
        start, end = self.add(title)
        if end > start:
            self.headings.append((start, level, title.strip()))

    def text(self) -> str:
        return "".join(self.parts)


def section_spans(
    headings: list[tuple[int, int, str]], text_length: int
) -> tuple[tuple[int, int, str], ...]:
    """Turn headings `(offset, level, title)` into spans with paths like `History › Origins`.

    A single top-level heading that opens the document is its title, not a section: it is left
    out of the paths so they stay short.
    """
    if not headings:
        return ()
    top = min(level for _, level, _ in headings)
    if headings[0][1] == top and sum(1 for _, level, _ in headings if level == top) == 1:
        headings = headings[1:]
    spans: list[tuple[int, int, str]] = []
    stack: list[tuple[int, str]] = []
    for i, (offset, level, title) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = headings[i + 1][0] if i + 1 < len(headings) else text_length
        if end > offset:
            spans.append((offset, end, SECTION_SEPARATOR.join(t for _, t in stack)))
    return tuple(spans)


_SPACES = re.compile(r"[^\S\n]+")


def collapse_spaces(text: str) -> str:
    """Runs of spaces and tabs become one space (newlines are kept)."""
    return _SPACES.sub(" ", text)


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def iso_date(value: str | None) -> str | None:
    """`yyyy-mm-dd` from an ISO-ish date or datetime string, or None."""
    if not value:
        return None
    match = _ISO_DATE.search(value)
    return match.group(0) if match else None


# Lines that web pages print around every article; they are site chrome even inside the main
# text (a browser-printed PDF or a page trafilatura could not clean fully).
CHROME_LINES = frozenset(
    s.casefold()
    for s in (
        "From Wikipedia, the free encyclopedia",
        "Jump to navigation",
        "Jump to search",
        "Jump to content",
        "Skip to main content",
        "Skip to content",
        "Advertisement",
        "Share this article",
        "Print this page",
    )
)


def is_chrome_line(line: str) -> bool:
    return line.strip().casefold() in CHROME_LINES
