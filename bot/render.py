"""Answer → JSON (the DESIGN.md contract) and → terminal text (rich). Pure: data in, data out."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from bot.answer import Answer, Quote
from bot.index import DocumentRecord


def answer_to_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "declined": answer.declined,
        "quotes": [quote_to_json(quote) for quote in answer.quotes],
        **({"message": answer.message} if answer.message else {}),
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
    `People's Daily Online — "Grassroots…", 10 Aug 2010, ¶5` (see bot.citation)."""
    from bot.citation import citation

    return citation(quote)


def answer_to_terminal(answer: Answer) -> RenderableType:
    if answer.declined:
        return Text(answer.message or "Nothing in the documents answers that.", style="yellow")
    parts: list[RenderableType] = []
    if answer.context:
        parts.append(Text(f"↳ following up on: {answer.context[-1]}", style="dim"))
    if answer.message:
        parts.append(Text(answer.message, style="dim"))
    for number, quote in enumerate(answer.quotes, start=1):
        heading = Text.assemble(
            (f"{number}. ", "bold cyan"),
            (position(quote), "cyan"),
            (f"  score {quote.score:.2f}", "dim"),
        )
        body = Padding(_quote_text(quote), (0, 0, 1, 2), style="")
        parts.extend([heading, _bar(body)])
    return Group(*parts)


def _quote_text(quote: Quote) -> Text:
    text = Text(quote.text, style="italic")
    if quote.highlight:
        start, end = quote.highlight[0] - quote.start, quote.highlight[1] - quote.start
        text.stylize("bold not italic", start, end)
    return text


def _bar(body: Padding) -> RenderableType:
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column()
    table.add_row("│", body)
    return table


def sources_to_json(records: list[DocumentRecord]) -> list[dict[str, Any]]:
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
        }
        for r in sorted(records, key=lambda r: r.source)
    ]


def sources_to_terminal(records: list[DocumentRecord]) -> RenderableType:
    from rich.table import Table

    from bot.citation import shorten

    table = Table()
    table.add_column("source", overflow="fold")
    table.add_column("format", no_wrap=True)
    table.add_column("title")
    table.add_column("date", no_wrap=True)
    table.add_column("chars", justify="right", no_wrap=True)
    table.add_column("chunks", justify="right", no_wrap=True)
    table.add_column("indexed", no_wrap=True)
    for r in sorted(records, key=lambda r: r.source):
        table.add_row(
            r.source,
            r.format + (f" {len(r.pages)}p" if r.pages else ""),
            shorten(r.title or "", 40),
            r.date or "",
            str(r.characters),
            str(r.chunks),
            r.indexed_at[:10],
        )
    return table
