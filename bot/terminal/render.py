"""Answer → JSON (the DESIGN.md contract) and → terminal text (rich). Pure: data in, data out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from bot.answering.compose import Answer, Quote
from bot.index.generation import DocumentRecord
from bot.shared.terminal_safety import LAYOUT, inert_text


def answer_to_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "declined": answer.declined,
        "quotes": [quote_to_json(quote) for quote in answer.quotes],
        # Nearest passages of a declined question: related reading, never the answer.
        "related": [quote_to_json(quote) for quote in answer.related],
        **({"message": answer.message} if answer.message else {}),
        **({"question_truncated": True} if answer.question_truncated else {}),
    }


def answer_to_json_with_context(answer: Answer) -> dict[str, Any]:
    """The `ask --follow-ups` shape: the ask --json object plus the earlier questions used."""
    return {**answer_to_json(answer), "context": list(answer.context)}


def quote_to_json(quote: Quote) -> dict[str, Any]:
    highlight = (
        {"start": quote.highlight[0], "end": quote.highlight[1]} if quote.highlight else None
    )
    return {
        "source": quote.source,
        "start": quote.start,
        "end": quote.end,
        "text": quote.text,
        "highlight": highlight,
        "score": quote.score,
        "title": quote.title,
        "date": quote.date,
        "url": quote.url,
        "page": quote.page,
        "section": quote.section,
    }


def position(quote: Quote) -> str:
    """Where a quote comes from, as a reader would cite it: `article.txt ¶5`, or with a title
    `People's Daily Online — "Grassroots…", 10 Aug 2010, ¶5` (see bot.answering.citation)."""
    from bot.answering.citation import citation

    return citation(quote)


def answer_to_terminal(answer: Answer) -> RenderableType:
    """Every string from a document, a file name or the question is made inert (shown, never
    obeyed by the terminal, never read as rich markup)."""
    if answer.declined:
        declined = inert_text(answer.message or "Nothing in the documents answers that.", "yellow")
        if not answer.related:
            return declined
        return Group(
            declined,
            Text("Related passages (not an answer):", style="bold"),
            *_quote_blocks(answer.related),
        )
    parts: list[RenderableType] = []
    if answer.context:
        parts.append(inert_text(f"↳ following up on: {answer.context[-1]}", "dim"))
    if answer.message:
        parts.append(inert_text(answer.message, "dim"))
    parts.extend(_quote_blocks(answer.quotes))
    return Group(*parts)


def _quote_blocks(quotes: tuple[Quote, ...]) -> list[RenderableType]:
    """Numbered quotes with their source and score (the calibrated chance that it answers)."""
    parts: list[RenderableType] = []
    for number, quote in enumerate(quotes, start=1):
        heading = Text.assemble(
            (f"{number}. ", "bold cyan"),
            inert_text(position(quote), "cyan"),
            (f"  score {quote.score:.2f}", "dim"),
        )
        body = Padding(_quote_text(quote), (0, 0, 1, 2), style="")
        parts.extend([heading, _bar(body)])
    return parts


def _quote_text(quote: Quote) -> Text:
    """The quote in italics, its highlight in bold: each part made inert on its own, so the
    highlight stays on the same characters however long their escapes are."""
    start, end = (
        (quote.highlight[0] - quote.start, quote.highlight[1] - quote.start)
        if quote.highlight
        else (len(quote.text), len(quote.text))
    )
    return Text.assemble(
        inert_text(quote.text[:start], "italic", LAYOUT),
        inert_text(quote.text[start:end], "bold", LAYOUT),
        inert_text(quote.text[end:], "italic", LAYOUT),
    )


def _bar(body: Padding) -> RenderableType:
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column()
    table.add_row("│", body)
    return table


def sources_to_json(
    records: list[DocumentRecord], changed: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """`changed` (source -> ISO time) is when the changelog last saw each document change;
    beyond its retention, when the document was last indexed."""
    changed = changed or {}
    return [
        {
            "source": r.source,
            "format": r.format,
            "title": r.title,
            "date": r.date,
            "url": r.url,
            "author": r.author,
            "characters": r.characters,
            "chunks": r.chunks,
            "pages": len(r.pages) or None,
            "indexed_at": r.indexed_at,
            "encoding": r.encoding,
            "changed_at": changed.get(r.source, r.indexed_at),
        }
        for r in sorted(records, key=lambda r: r.source)
    ]


def sources_to_terminal(
    records: list[DocumentRecord], changed: Mapping[str, str] | None = None
) -> RenderableType:
    from rich.table import Table

    from bot.answering.citation import shorten

    table = Table()
    table.add_column("source", overflow="fold")
    table.add_column("format", no_wrap=True)
    table.add_column("title")
    table.add_column("date", no_wrap=True)
    table.add_column("chars", justify="right", no_wrap=True)
    table.add_column("chunks", justify="right", no_wrap=True)
    table.add_column("changed", no_wrap=True)
    for r in sorted(records, key=lambda r: r.source):
        table.add_row(  # Text cells: a name like `[draft] notes.txt` is not markup
            inert_text(r.source),
            inert_text(r.format + (f" {len(r.pages)}p" if r.pages else "")),
            inert_text(shorten(r.title or "", 40)),
            inert_text(r.date or ""),
            str(r.characters),
            str(r.chunks),
            inert_text((changed or {}).get(r.source, r.indexed_at)[:10]),
        )
    return table
