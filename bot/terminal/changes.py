"""The changelog → JSON (the `changes --json` contract in the README) and → terminal (rich).

Document names and passages are untrusted: on the terminal they go through `inert_text` (rich
`Text`, never markup, controls and escape sequences shown as visible escapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from bot.index.changelog import (
    ChangeEntry,
    DocumentChange,
    PassageChange,
    Since,
    document_summary,
    when,
)
from bot.shared.terminal_safety import LAYOUT, inert_text


def changes_to_json(
    entries: Sequence[ChangeEntry], since: Since, generation: int | None
) -> dict[str, Any]:
    return {
        "since": since.to_json(),
        "generation": generation,
        "changes": [entry.to_json() for entry in entries],
    }


def changes_to_terminal(entries: Sequence[ChangeEntry], since: Since) -> RenderableType:
    if not entries:
        return Text(_nothing(since), style="yellow")
    parts: list[RenderableType] = []
    for entry in entries:
        heading = Text.assemble(
            (f"generation {entry.generation}", "bold cyan"), (f"  {when(entry)}", "dim")
        )
        if entry.note:
            heading.append(inert_text(f"  (index rebuilt: {entry.note})", style="dim"))
        parts.append(heading)
        for document in entry.documents:
            parts.append(_document(document))
            parts.extend(Padding(_passage(p), (0, 0, 0, 4)) for p in document.passages)
        parts.append(Text(""))
    return Group(*parts)


def _nothing(since: Since) -> str:
    if since.generation is not None:
        return f"No changes to the documents after generation {since.generation}."
    if since.time is not None:
        return f"No changes to the documents since {since.time:%Y-%m-%d %H:%M} UTC."
    return "No changes to the documents recorded."


def _document(document: DocumentChange) -> Text:
    line = Text("  ")
    line.append(inert_text(document.source, style="bold"))
    line.append(inert_text(f"  {document_summary(document)}"))
    return line


def _passage(passage: PassageChange) -> Group:
    rows: list[Text] = [Text(_where(passage), style="dim")]
    if passage.old is not None:
        rows.append(_quoted("- ", passage.old.text, "red"))
    if passage.new is not None:
        rows.append(_quoted("+ ", passage.new.text, "green"))
    return Group(*rows)


def _where(passage: PassageChange) -> str:
    old = f"{passage.old.start}-{passage.old.end}" if passage.old else ""
    new = f"{passage.new.start}-{passage.new.end}" if passage.new else ""
    if passage.kind == "changed":
        return f"changed, characters {old} -> {new}"
    return f"{passage.kind}, characters {old or new}"


def _quoted(mark: str, text: str, style: str) -> Text:
    line = Text(mark, style=f"bold {style}")
    line.append(inert_text(text, style=style, keep=LAYOUT))
    return line
