"""The passage diff behind the changelog: edited, moved, added, removed, whole documents."""

from __future__ import annotations

from bot.index.diff import Reread, diff_passages, document_changes, text_unchanged
from bot.index.generation import DocumentRecord
from bot.ingest.chunking import Chunk, ChunkerSettings, chunk_text

SETTINGS = ChunkerSettings()
PARAGRAPHS = [
    "The harbour authority opened the northern pier to cargo ships in the spring of that year, "
    "after two winters of repairs, and announced that the old customs house would be turned into "
    "a museum of the port's history with help from the regional government.",
    "Fishermen complained that the new schedule left them no berths before dawn on market days, "
    "and their association asked for the eastern quay to be kept for small boats between four and "
    "eight in the morning, a request the authority promised to study.",
    "A committee of six members was appointed to review the tariffs every second autumn; it "
    "includes two representatives of the shipping companies, two of the fishermen and two "
    "officials named by the mayor, who chairs its meetings without a vote.",
    "The city council approved a loan for dredging the channel to a depth of twelve metres, so "
    "that the larger container vessels now common on the coast can enter at any tide, and set "
    "aside a smaller sum for the lighthouse keepers' cottages.",
]


def _chunks(paragraphs: list[str], source: str = "a.txt") -> tuple[str, list[Chunk]]:
    text = "\n\n".join(paragraphs) + "\n"
    return text, chunk_text(source, text, SETTINGS)


def _record(source: str, text: str, chunks: list[Chunk], sha: str) -> DocumentRecord:
    return DocumentRecord(source, sha, len(text), len(chunks), len(text), "2026-12-01T00:00:00")


def test_each_paragraph_is_a_passage() -> None:
    _, chunks = _chunks(PARAGRAPHS)
    assert [c.text for c in chunks] == PARAGRAPHS


def test_an_edited_paragraph_is_changed_with_both_offsets() -> None:
    old_text, old = _chunks(PARAGRAPHS)
    edited = [*PARAGRAPHS]
    edited[2] = edited[2].replace("six members", "nine members and a chair")
    new_text, new = _chunks(edited)
    (change,) = diff_passages(old, new)
    assert change.kind == "changed" and change.old and change.new
    assert old_text[change.old.start : change.old.end] == change.old.text == PARAGRAPHS[2]
    assert new_text[change.new.start : change.new.end] == change.new.text == edited[2]


def test_a_moved_paragraph_is_no_change() -> None:
    _, old = _chunks(PARAGRAPHS)
    _, new = _chunks([PARAGRAPHS[3], PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[2]])
    assert diff_passages(old, new) == []


def test_moved_and_a_new_paragraph_only_the_new_one_is_added() -> None:
    _, old = _chunks(PARAGRAPHS)
    added = (
        "Tourists arrived on three ferries in the first week of the season, which the harbour had "
        "never seen before, and the town's two hotels were full until the end of the month, when "
        "the weather turned and the ferries went back to their winter timetable."
    )
    _, new = _chunks([PARAGRAPHS[2], PARAGRAPHS[0], added, PARAGRAPHS[1], PARAGRAPHS[3]])
    changes = diff_passages(old, new)
    assert [(c.kind, c.new.text if c.new else None) for c in changes] == [("added", added)]


def test_a_removed_paragraph_keeps_its_old_text() -> None:
    old_text, old = _chunks(PARAGRAPHS)
    _, new = _chunks([PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[3]])
    (change,) = diff_passages(old, new)
    assert change.kind == "removed" and change.new is None and change.old is not None
    assert change.old.text == PARAGRAPHS[2] == old_text[change.old.start : change.old.end]


def test_a_rewritten_paragraph_is_removed_and_added_not_changed() -> None:
    _, old = _chunks(PARAGRAPHS)
    rewritten = [*PARAGRAPHS]
    rewritten[1] = (
        "Weather records kept at the lighthouse go back to eighteen ninety: storms were logged by "
        "hand in leather-bound books, with wind strength estimated from the state of the sea, "
        "until an automatic station replaced the keepers in nineteen eighty-one."
    )
    _, new = _chunks(rewritten)
    kinds = sorted(c.kind for c in diff_passages(old, new))
    assert kinds == ["added", "removed"]


def test_identical_paragraphs_are_counted_not_merged() -> None:
    _, old = _chunks([PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[0]])
    _, new = _chunks([PARAGRAPHS[0], PARAGRAPHS[1]])
    (change,) = diff_passages(old, new)
    assert change.kind == "removed" and change.old and change.old.text == PARAGRAPHS[0]


def test_a_whole_rewrite_is_bounded_and_complete() -> None:
    old = [Chunk("a.txt", i * 10, i * 10 + 9, f"old {i} text", 1) for i in range(60)]
    new = [Chunk("a.txt", i * 10, i * 10 + 9, f"new {i} text", 1) for i in range(50)]
    changes = diff_passages(old, new)
    removed = [c for c in changes if c.kind in ("removed", "changed")]
    added = [c for c in changes if c.kind in ("added", "changed")]
    assert len(removed) == 60 and len(added) == 50


def test_same_text_read_again_is_unchanged() -> None:
    text, chunks = _chunks(PARAGRAPHS)
    assert text_unchanged(chunks, len(text), text)
    assert not text_unchanged(chunks, len(text), text.replace("six", "ten"))
    assert not text_unchanged(chunks, len(text), text + "More.")


def test_documents_added_removed_renamed_and_edited() -> None:
    text, chunks = _chunks(PARAGRAPHS)
    other_text, other = _chunks(PARAGRAPHS[:2], "b.txt")
    previous = {
        "a.txt": _record("a.txt", text, chunks, "sha-a"),
        "b.txt": _record("b.txt", other_text, other, "sha-b"),
        "gone.txt": _record("gone.txt", "x", [], "sha-gone"),
        "same.txt": _record("same.txt", text, chunks, "sha-same"),
    }
    edited = [*PARAGRAPHS]
    edited[0] = edited[0].replace("spring", "summer")
    new_text, new_chunks = _chunks(edited)
    renamed = [Chunk("c.txt", c.start, c.end, c.text, c.paragraph) for c in other]
    current = {
        "a.txt": _record("a.txt", new_text, new_chunks, "sha-a2"),
        "c.txt": _record("c.txt", other_text, renamed, "sha-b"),
        "new.txt": _record("new.txt", "y", [], "sha-new"),
        "same.txt": _record("same.txt", text, chunks, "sha-same2"),  # other bytes, same text
    }
    reread = {
        "a.txt": Reread(new_text, new_chunks),
        "c.txt": Reread(other_text, renamed),
        "new.txt": Reread("y", []),
        "same.txt": Reread(text, chunks),
    }
    old = {"a.txt": chunks, "b.txt": other, "same.txt": chunks}
    changes = document_changes(previous, current, reread, lambda s: old[s])
    summary = [(c.source, c.kind, c.renamed_from) for c in changes]
    assert summary == [
        ("a.txt", "edited", None),
        ("c.txt", "renamed", "b.txt"),
        ("gone.txt", "removed", None),
        ("new.txt", "added", None),
    ]
    (edit,) = changes[0].passages
    assert edit.kind == "changed" and edit.old and edit.old.text == PARAGRAPHS[0]
    assert changes[1].passages_before == changes[1].passages_after == 2
