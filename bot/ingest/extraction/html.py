"""Saved web pages: the article text (trafilatura, precision mode) with its title, date and link.

trafilatura's XML output keeps the structure we need (headings, paragraphs, list items), so each
paragraph becomes one blank-line-separated block and headings become section paths. What it keeps
that is still not the article is removed here: Wikipedia-style `[12]` / `[edit]` markers, reference
and "See also" sections, and the well-known chrome lines of `base.CHROME_LINES`.

A news page's dateline and byline live outside the article body; they are answerable facts ("when
was it published?"), so a short paragraph made of the page's own headline, dateline and byline
lines (each verbatim from the page) closes the text when the page has them.
"""

from __future__ import annotations

import re
from datetime import date as Date
from typing import Any

from bot.ingest.extraction.base import (
    Extracted,
    ExtractionFailed,
    TextBuilder,
    collapse_spaces,
    is_chrome_line,
    iso_date,
    section_spans,
)
from bot.ingest.extraction.interface import strip_interface

# After inline images and scripts are dropped, a page larger than this is not an article.
MAX_HTML_CHARS = 15_000_000

_MARKERS = re.compile(
    r"\[(?:\d{1,3}|[a-z]|edit|note \d+|nb \d+|citation needed|clarification needed|"
    r"when\?|who\?|which\?|according to whom\?|dubious[^\]]{0,30}|failed verification|"
    r"better source needed|page needed|unreliable source\?)\]",
    re.IGNORECASE,
)
_SKIP_SECTIONS = frozenset(
    [
        "references",
        "notes",
        "footnotes",
        "citations",
        "sources",
        "bibliography",
        "further reading",
        "external links",
        "see also",
        "related articles",
        "related news",
        "related stories",
        "most popular",
        "comments",
    ]
)
_INLINE_DATA = re.compile(rb"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]{64,}")
_SCRIPT_STYLE = re.compile(rb"<(script|style|svg)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


def extract_html(data: bytes) -> Extracted:
    """Main text and metadata of an HTML page; raises ExtractionFailed if it has no article."""
    import trafilatura
    from lxml import etree

    html = _decode(_strip_heavy(data))
    if len(html) > MAX_HTML_CHARS:
        raise ExtractionFailed(
            f"web page too large ({len(html) // 1_000_000} MB of HTML after dropping scripts "
            f"and inline images; the limit is {MAX_HTML_CHARS // 1_000_000} MB)"
        )
    html = _without_interface(html)
    xml = trafilatura.extract(
        html,
        output_format="xml",
        favor_precision=True,
        include_tables=False,
        include_comments=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        with_metadata=True,
        deduplicate=False,
    )
    if not xml:
        raise ExtractionFailed("no main text found in the web page")
    root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    meta = dict(root.attrib)
    builder = TextBuilder()
    main = root.find("main")
    if main is not None:
        _add_blocks(main, builder)
    if builder.length == 0:
        raise ExtractionFailed("no main text found in the web page")
    citation_lines = _citation_lines(html, meta)
    if citation_lines:
        builder.add("\n".join(citation_lines))
    text = builder.text()
    return Extracted(
        text=text,
        format="html",
        title=_title(meta),
        date=iso_date(meta.get("date")),
        url=meta.get("url") or None,
        author=meta.get("author") or meta.get("sitename") or None,
        sections=section_spans(builder.headings, len(text)),
    )


def _strip_heavy(data: bytes) -> bytes:
    """Drop scripts, styles, inline SVG and base64 images: saved pages are mostly these."""
    data = _SCRIPT_STYLE.sub(b"", data)
    return _INLINE_DATA.sub(b"data:,", data)


def _without_interface(html: str) -> str:
    """The page with its menus, settings, banners and controls removed (extraction.interface)."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(
            html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8")
        )
    except (ValueError, lxml.etree.ParserError):
        return html
    strip_interface(tree)
    return str(lxml.html.tostring(tree, encoding="unicode"))


def _decode(data: bytes) -> str:
    from trafilatura.utils import decode_file

    text = decode_file(data)
    if not isinstance(text, str):
        text = data.decode("utf-8", errors="replace")
    return text.replace("\x00", "")


def _add_blocks(main: Any, builder: TextBuilder) -> None:
    skip_level: int | None = None  # inside a References / See also section of this level
    for element in main:
        tag = element.tag
        if tag == "head":
            level = _heading_level(element.get("rend"))
            title = _clean("".join(element.itertext()))
            if skip_level is not None and level > skip_level:
                continue
            skip_level = None
            if title.casefold().rstrip(":") in _SKIP_SECTIONS:
                skip_level = level
                continue
            if title:
                builder.add_heading(title, level)
        elif skip_level is not None:
            continue
        elif tag == "list":
            items = [_clean("".join(item.itertext())) for item in element.iter("item")]
            items = [i for i in items if i and not i.startswith("^")]
            if items:
                builder.add("\n".join(items))
        elif tag in ("p", "quote", "code"):
            paragraph = _clean("".join(element.itertext()))
            if paragraph and not is_chrome_line(paragraph):
                builder.add(paragraph)


def _heading_level(rend: str | None) -> int:
    if rend and len(rend) == 2 and rend[0] == "h" and rend[1].isdigit():
        return int(rend[1])
    return 2


def _clean(text: str) -> str:
    text = _MARKERS.sub("", text)
    lines = [collapse_spaces(line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not is_chrome_line(line))


def _title(meta: dict[str, str]) -> str | None:
    title = meta.get("title")
    if not title:
        return None
    site = meta.get("sitename")
    for sep in (" - ", " | ", " — ", " – "):
        head, _, tail = title.rpartition(sep)
        if head and (not site or tail.strip().casefold() in (site.casefold(), "wikipedia")):
            return head.strip()
    return title.strip()


def _citation_lines(html: str, meta: dict[str, str]) -> list[str]:
    """The page's own headline, dateline and byline (each a verbatim line of the page, in page
    order) when it has a dateline or a byline; they become the text's last paragraph.

    As a passage of their own they answer "when was it published?" / "who wrote it?" without
    diluting the article's first paragraph (measured on shared/eval/formats: at the top, packed
    with that paragraph by the chunker, both kinds of question did worse).
    """
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    day = iso_date(meta.get("date"))
    dateline = _find_short_text(tree, lambda s: day is not None and _mentions_date(s, day))
    byline = _find_short_text(tree, _looks_like_byline)
    if dateline[0] is None and byline[0] is None:
        return []  # a headline alone repeats the article's first heading
    order = {element: i for i, element in enumerate(tree.iter())}
    found = [(order[e], text) for e, text in dict([dateline, byline]).items() if e is not None]
    h1 = tree.find(".//h1")
    if h1 is not None:
        headline = collapse_spaces(h1.text_content()).strip()
        if 0 < len(headline) <= 200:
            found.append((order[h1], headline))
    return [text for _, text in sorted(found)]


_CHROME_CONTAINER = re.compile(r"foot|copyright|nav|menu|sidebar|related|comment", re.IGNORECASE)
_NOT_A_DATELINE = re.compile(r"last (?:edited|modified|updated)|copyright|©|retrieved", re.I)


def _find_short_text(tree: Any, accept: Any) -> tuple[Any, str]:
    """The first short element (and its text) that `accept`s, outside footers, menus, sidebars;
    (None, "") when there is none."""
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "title"):
            continue
        if len(element) > 3 or _in_chrome(element):
            continue
        text = collapse_spaces(element.text_content()).strip()
        if 4 <= len(text) <= 80 and not _NOT_A_DATELINE.search(text) and accept(text):
            return element, text
    return None, ""


def _in_chrome(element: Any) -> bool:
    for node in element.iterancestors():
        if node.tag in ("footer", "nav", "aside", "header"):
            return True
        marks = f"{node.get('id', '')} {node.get('class', '')} {node.get('role', '')}"
        if _CHROME_CONTAINER.search(marks):
            return True
    return False


def _mentions_date(text: str, day: str) -> bool:
    try:
        d = Date.fromisoformat(day)
    except ValueError:
        return False
    month = _MONTHS[d.month - 1]
    forms = (
        f"{month} {d.day}, {d.year}",
        f"{d.day} {month} {d.year}",
        f"{month[:3]} {d.day}, {d.year}",
        f"{month[:3]}. {d.day}, {d.year}",
        f"{d.day} {month[:3]} {d.year}",
        day,
        f"{d.day:02d}/{d.month:02d}/{d.year}",
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.day}.{d.month}.{d.year}",
    )
    folded = text.casefold()
    return any(form.casefold() in folded for form in forms)


_BYLINE = re.compile(r"^(?:by|written by|posted by|author:)\s+\S", re.IGNORECASE)


def _looks_like_byline(text: str) -> bool:
    return bool(_BYLINE.match(text)) and len(text.split()) <= 10
