"""Which quotes of an earlier answer later index updates changed or removed (for marking stale
answers, issue 18). Pure: changelog entries and an answer's quotes in, quote positions out.

A quote's offsets refer to the text of the generation it was answered from. The first later
entry that touches its document lists old passages in that same text, so offsets decide; after
that the text may have shifted, so a later entry matches by text (a quote is made of whole
passages, so an old passage holding the quote, or held by it, is the same text). Offsets are
trusted only while every generation since the answer has its entry: one the changelog pruned
could have moved them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.compose import Quote
from bot.index.changelog import ChangeEntry, Span


@dataclass(frozen=True, slots=True)
class QuotedSpan:
    """What an answer quoted: a source and a span of its text at the answer's generation."""

    source: str
    start: int
    end: int
    text: str


def stale_quotes(
    generation: int, quotes: Sequence[QuotedSpan], entries: Sequence[ChangeEntry]
) -> list[int]:
    """Positions in `quotes` whose passage an entry after `generation` changed or removed (or
    whose whole document was removed), in order."""
    later = sorted((e for e in entries if e.generation > generation), key=lambda e: e.generation)
    return [i for i, quote in enumerate(quotes) if _is_stale(quote, generation, later)]


def _is_stale(quote: QuotedSpan, generation: int, entries: Sequence[ChangeEntry]) -> bool:
    source, same_text = quote.source, True
    seen = generation
    for entry in entries:
        if entry.generation != seen + 1:
            same_text = False  # a generation's entry is missing (pruned): offsets may have moved
        seen = entry.generation
        for document in entry.documents:
            if document.kind == "renamed" and document.renamed_from == source:
                source = document.source  # same bytes under a new name: the quote still holds
                continue
            if document.source != source:
                continue
            if document.kind == "removed":
                return True
            if document.kind == "edited":
                olds = [p.old for p in document.passages if p.old is not None]
                if any(_touches(quote, old, by_offsets=same_text) for old in olds):
                    return True
                same_text = False  # the document changed elsewhere: offsets may have moved
    return False


def _touches(quote: QuotedSpan, old: Span, *, by_offsets: bool) -> bool:
    if by_offsets:
        return old.start < quote.end and quote.start < old.end
    return bool(old.text) and (quote.text in old.text or old.text in quote.text)


def quoted_spans(quotes: Sequence[Quote]) -> list[QuotedSpan]:
    return [QuotedSpan(q.source, q.start, q.end, q.text) for q in quotes]


def newly_stale(
    generation: int,
    quotes: Sequence[QuotedSpan],
    entries: Sequence[ChangeEntry],
    after: int,
    upto: int,
) -> tuple[int, ...] | None:
    """For generations `after < g <= upto` landing: every stale position of `quotes` (answered
    at `generation`) as of `upto` if that range made one more of them stale, else None (the
    answer is left as it is: untouched, or already marked for those quotes)."""
    current = stale_quotes(generation, quotes, [e for e in entries if e.generation <= upto])
    before = stale_quotes(generation, quotes, [e for e in entries if e.generation <= after])
    return tuple(current) if set(current) - set(before) else None
