"""What an update changed, passage by passage: old and new chunks of a document matched by text.

Passages are compared by their whitespace-collapsed text with difflib's SequenceMatcher, so a
paragraph that only moved is matched to itself and is not a change. Of what is left, a removed
passage and an added one that are similar (in the same replaced region) are one `changed`
passage; the rest are `added` or `removed`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from bot.index.changelog import ChangeEntry, DocumentChange, PassageChange, Span
from bot.index.generation import DocumentRecord
from bot.ingest.chunking import Chunk

# Word-level similarity above which a new passage is the edited form of an old one. A paragraph
# with one sentence of four rewritten scores ~0.7; an unrelated one ~0.1-0.3.
SIMILAR = 0.5
# Beyond this many (old, new) pairs in one replaced region, pair in order instead of best-first
# (bounds the work when a whole document is rewritten).
MAX_PAIRS = 400


def _key(chunk: Chunk) -> str:
    return " ".join(chunk.text.split())


def _span(chunk: Chunk) -> Span:
    return Span(chunk.start, chunk.end, chunk.text)


def similarity(a: Chunk, b: Chunk) -> float:
    matcher = SequenceMatcher(None, a.text.split(), b.text.split(), autojunk=False)
    if matcher.real_quick_ratio() < SIMILAR or matcher.quick_ratio() < SIMILAR:
        return 0.0
    return matcher.ratio()


def diff_passages(old: Sequence[Chunk], new: Sequence[Chunk]) -> list[PassageChange]:
    """The passage changes from `old` to `new` (each in document order)."""
    old = sorted(old, key=lambda c: c.start)
    new = sorted(new, key=lambda c: c.start)
    matcher = SequenceMatcher(None, [_key(c) for c in old], [_key(c) for c in new], autojunk=False)
    regions = [
        (old[i1:i2], new[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    ]
    # A passage that left one place and appears unchanged in another only moved.
    gone = Counter(_key(c) for olds, _ in regions for c in olds)
    came = Counter(_key(c) for _, news in regions for c in news)
    moved_old, moved_new = gone & came, gone & came
    changes: list[PassageChange] = []
    for olds, news in regions:
        changes.extend(
            _pair(
                [c for c in olds if not _take(moved_old, c)],
                [c for c in news if not _take(moved_new, c)],
            )
        )
    return changes


def _take(moved: Counter[str], chunk: Chunk) -> bool:
    """True (and one fewer left) when `chunk` is one of the passages that only moved."""
    key = _key(chunk)
    if moved[key] <= 0:
        return False
    moved[key] -= 1
    return True


def _pair(olds: list[Chunk], news: list[Chunk]) -> list[PassageChange]:
    pairs: list[tuple[int, int]] = []
    if olds and news:
        if len(olds) * len(news) <= MAX_PAIRS:
            scored = sorted(
                ((-similarity(a, b), i, j) for i, a in enumerate(olds) for j, b in enumerate(news)),
            )
            used_old: set[int] = set()
            used_new: set[int] = set()
            for negative, i, j in scored:
                if -negative < SIMILAR:
                    break
                if i not in used_old and j not in used_new:
                    used_old.add(i)
                    used_new.add(j)
                    pairs.append((i, j))
        else:
            pairs = [
                (i, i)
                for i in range(min(len(olds), len(news)))
                if similarity(olds[i], news[i]) >= SIMILAR
            ]
    paired_old = {i for i, _ in pairs}
    paired_new = {j for _, j in pairs}
    out = [PassageChange("changed", _span(olds[i]), _span(news[j])) for i, j in sorted(pairs)]
    out += [
        PassageChange("removed", _span(c), None) for i, c in enumerate(olds) if i not in paired_old
    ]
    out += [
        PassageChange("added", None, _span(c)) for j, c in enumerate(news) if j not in paired_new
    ]
    return out


def text_unchanged(old: Sequence[Chunk], characters: int, new_text: str) -> bool:
    """The document's text is what the old passages were cut from: a re-read (new extractor,
    new chunker, other bytes that decode to the same text) changed nothing quotable."""
    return len(new_text) == characters and all(new_text[c.start : c.end] == c.text for c in old)


@dataclass(frozen=True, slots=True)
class Reread:
    """A document read by this update: its text and its new passages."""

    text: str
    chunks: list[Chunk]


def document_changes(
    previous: Mapping[str, DocumentRecord],
    current: Mapping[str, DocumentRecord],
    reread: Mapping[str, Reread],
    old_passages: Callable[[str], list[Chunk]],
) -> list[DocumentChange]:
    """Per document, what changed from the `previous` generation's records to the `current`
    ones. `reread` holds the documents read by this update; `old_passages(source)` gives a
    document's passages in the previous generation. A removed and an added document with the
    same bytes are one rename."""
    removed = {s: r for s, r in previous.items() if s not in current}
    added = {s: r for s, r in current.items() if s not in previous}
    by_hash: dict[str, list[str]] = {}
    for source in sorted(removed):
        by_hash.setdefault(removed[source].sha256, []).append(source)
    changes: list[DocumentChange] = []
    for source, record in sorted(added.items()):
        twins = by_hash.get(record.sha256)
        if twins:
            old_source = twins.pop(0)
            changes.append(
                DocumentChange(
                    source,
                    "renamed",
                    renamed_from=old_source,
                    passages_before=removed.pop(old_source).chunks,
                    passages_after=record.chunks,
                )
            )
        else:
            changes.append(DocumentChange(source, "added", passages_after=record.chunks))
    for source, record in removed.items():
        changes.append(DocumentChange(source, "removed", passages_before=record.chunks))
    for source, read in sorted(reread.items()):
        if source not in previous or source not in current:
            continue
        old = old_passages(source)
        if text_unchanged(old, previous[source].characters, read.text):
            continue
        passages = diff_passages(old, read.chunks)
        if passages:
            changes.append(
                DocumentChange(
                    source,
                    "edited",
                    tuple(passages),
                    passages_before=len(old),
                    passages_after=len(read.chunks),
                )
            )
    return sorted(changes, key=lambda c: c.source)


def change_entry(
    generation: int,
    time: str,
    changes: list[DocumentChange],
    note: str | None = None,
) -> ChangeEntry | None:
    """The changelog entry of a generation, or None when it changed nothing quotable (a re-read
    that gave the same text, a skipped file's record): the changelog lists changes only."""
    if not changes:
        return None
    return ChangeEntry(generation, time, tuple(changes), note)
