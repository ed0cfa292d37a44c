"""Attach a source's citation (title, date, link, page, section) to quotes, and phrase it.

Kept apart from answer composition: composing works on chunks alone, and the citation comes from
the document records of the same index generation, looked up by the quote's start offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date as Date

from bot.answering.compose import Answer, Quote
from bot.index.generation import DocumentRecord
from bot.shared.text import shorten_line

TITLE_CHARS = 60


def with_citations(answer: Answer, documents: Mapping[str, DocumentRecord]) -> Answer:
    quotes = tuple(cite(quote, documents.get(quote.source)) for quote in answer.quotes)
    related = tuple(cite(quote, documents.get(quote.source)) for quote in answer.related)
    return replace(answer, quotes=quotes, related=related)


def cite(quote: Quote, record: DocumentRecord | None) -> Quote:
    """The page and section are those of the highlighted sentence (what a reader looks for),
    or of the quote's start when nothing is highlighted."""
    if record is None:
        return quote
    at = quote.highlight[0] if quote.highlight else quote.start
    return replace(
        quote,
        title=record.title,
        date=record.date,
        url=record.url,
        author=record.author,
        page=next((n for a, b, n in record.pages if a <= at < b), None),
        section=next((p for a, b, p in record.sections if a <= at < b), None),
    )


def citation(quote: Quote) -> str:
    """`People's Daily Online — "Grassroots Party organizations…", 10 Aug 2010, ¶5`.

    Falls back to the file name when the source has no title: `article.txt ¶5`.
    """
    if not quote.title:
        where = [f"p. {quote.page}"] if quote.page is not None else []
        head = " ".join([quote.source, *where])
        tail = [quote.section] if quote.section else []
        return ", ".join([head, *tail]) + f" ¶{quote.paragraph}"
    parts = [citation_lead(quote), *citation_details(quote)]
    return ", ".join(parts)


def citation_lead(quote: Quote) -> str:
    """`People's Daily Online — "Grassroots Party organizations…"` (author or site, then title)."""
    title = f'"{shorten(quote.title or quote.source, TITLE_CHARS)}"'
    if quote.author and quote.author not in title:
        return f"{quote.author} — {title}"
    return title


def citation_details(quote: Quote) -> list[str]:
    """What follows the lead: date, section, page, paragraph."""
    parts = [human_date(quote.date)] if quote.date else []
    if quote.section:
        parts.append(quote.section)
    if quote.page is not None:
        parts.append(f"p. {quote.page}")
    return [*parts, f"¶{quote.paragraph}"]


def shorten(text: str, limit: int) -> str:
    """A title cut for a citation: between words when that keeps more than half, without
    dangling punctuation."""
    return shorten_line(text, limit, word_cut_after=limit // 2, trim=" ,;:-—")


def human_date(iso: str) -> str:
    """`2010-08-10` → `10 Aug 2010`; anything unparsable is shown as given."""
    try:
        day = Date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day.strftime('%b')} {day.year}"


FRAGMENT_WORDS = 4


def text_fragment_url(url: str, text: str, *, max_chars: int = 512) -> str | None:
    """A link that opens `url` scrolled to `text` (`#:~:text=start,end`), or None if too long.

    Only the first and last few words go into the fragment: short enough for Discord's limits,
    and less likely to straddle something the extractor removed (a `[12]` marker). `-`, `,` and
    `&` are percent-encoded too, since they are syntax inside a text directive.
    """
    words = text.split()
    if not words or not url.startswith(("http://", "https://")):
        return None
    base = url.split("#", 1)[0]
    if len(words) <= 2 * FRAGMENT_WORDS:
        directive = _encode(" ".join(words))
    else:
        start = _encode(" ".join(words[:FRAGMENT_WORDS]))
        end = _encode(" ".join(words[-FRAGMENT_WORDS:]))
        directive = f"{start},{end}"
    link = f"{base}#:~:text={directive}"
    return link if len(link) <= max_chars else None


def safe_link(url: str | None, passage: str, *, max_chars: int = 300) -> str | None:
    """A link for chat surfaces: http(s) only, characters that could end a markdown link or
    start a mention percent-encoded, opened at `passage` when that still fits in max_chars."""
    from urllib.parse import quote

    if not url or not url.startswith(("http://", "https://")) or len(url) > 2000:
        return None
    base = quote(url.split("#", 1)[0], safe=":/?=&%-._~!$'*+,;")
    fragment = text_fragment_url(base, passage, max_chars=max_chars)
    if fragment is not None:
        return fragment
    return base if len(base) <= max_chars else None


def _encode(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="").replace("-", "%2D")
