"""The changelog as Discord pages: each page one message within Discord's limits, inert as
markdown and unable to ping (every document name and passage goes through `discord_text`).

Pages are a pure function of the entries, so a page button can rebuild any page from the
changelog alone (nothing kept in memory, and buttons keep working after a restart).
Pure; no discord import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.discord.render import CONTENT_BUDGET
from bot.discord.text import render_passage, shorten, width
from bot.index.changelog import (
    ChangeEntry,
    DocumentChange,
    PassageChange,
    document_summary,
    when,
)
from bot.shared.wording import plural

PASSAGE_BUDGET = 320  # each side of a change; a page holds a few changes at full length
MAX_PASSAGES = 8  # per document and entry; the rest is counted, `quotebot changes` has them all
NAME_BUDGET = 150


@dataclass(frozen=True, slots=True)
class _Block:
    entry: int  # which entry it belongs to (index into the entries)
    text: str
    heading: bool = False


def page_title(entries: Sequence[ChangeEntry]) -> str:
    generations = sorted(e.generation for e in entries)
    span = (
        f"generation {generations[0]}"
        if generations[0] == generations[-1]
        else f"generations {generations[0]}–{generations[-1]}"
    )
    return f"**What changed in the documents** · {span}"


def render_change_pages(entries: Sequence[ChangeEntry], budget: int = CONTENT_BUDGET) -> list[str]:
    """The entries, newest first, packed into pages of at most `budget` width."""
    if not entries:
        return []
    ordered = sorted(entries, key=lambda e: e.generation, reverse=True)
    title = page_title(ordered)
    blocks: list[_Block] = []
    for number, entry in enumerate(ordered):
        blocks.append(_Block(number, _heading(entry), heading=True))
        for document in entry.documents:
            blocks.extend(_Block(number, text) for text in _document_blocks(document))
    pages: list[list[str]] = []
    current: list[str] = []
    used = 0
    shown_heading: int | None = None
    for block in blocks:
        pieces = [block.text]
        if not block.heading and shown_heading != block.entry:
            pieces.insert(0, _heading(ordered[block.entry]) + " (continued)")
        cost = sum(width(piece) + 2 for piece in pieces)
        if current and used + cost > budget:
            pages.append(current)
            current, used = [], 0
            if not block.heading:
                pieces = [_heading(ordered[block.entry]) + " (continued)", block.text]
                cost = sum(width(piece) + 2 for piece in pieces)
        if not current:
            current, used = [title], width(title)
        current.extend(pieces)
        used += cost
        shown_heading = block.entry
    if current:
        pages.append(current)
    # Every block is bounded (names and passages are shortened), so a page never overflows.
    return ["\n\n".join(page) for page in pages]


def _heading(entry: ChangeEntry) -> str:
    text = f"__Generation {entry.generation}__ · {when(entry)}"
    if entry.note:
        text += " · index rebuilt: " + shorten(entry.note, 150)
    return text


def _document_blocks(document: DocumentChange) -> list[str]:
    name = "**" + shorten(document.source, NAME_BUDGET) + "**"
    blocks = [f"{name} — {document_summary(document, _short_name)}"]
    shown = document.passages[:MAX_PASSAGES]
    blocks.extend(_passage(p) for p in shown)
    if len(document.passages) > len(shown):
        rest = len(document.passages) - len(shown)
        blocks.append(f"-# … and {plural(rest, 'more passage')} (`quotebot changes` has them all)")
    return blocks


def _passage(passage: PassageChange) -> str:
    parts: list[str] = []
    if passage.old is not None:
        label = "was" if passage.kind == "changed" else "removed"
        parts += [f"-# {label}:", render_passage(passage.old.text, None, PASSAGE_BUDGET)]
    if passage.new is not None:
        label = "now" if passage.kind == "changed" else "added"
        parts += [f"-# {label}:", render_passage(passage.new.text, None, PASSAGE_BUDGET)]
    return "\n".join(parts)


def _short_name(name: str) -> str:
    return shorten(name, NAME_BUDGET)
