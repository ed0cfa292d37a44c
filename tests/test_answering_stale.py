"""Which quotes of an answer later updates made stale, from real updates' changelog entries."""

from __future__ import annotations

from pathlib import Path

from bot.answering.stale import QuotedSpan, newly_stale, stale_quotes
from bot.index.changelog import ChangeEntry
from bot.index.generation import IndexRecipe, SearchIndex
from bot.index.update import update_index
from bot.ingest.chunking import ChunkerSettings
from bot.stores.files import FileStore
from tests.fakes import FakeEmbedder

RECIPE = IndexRecipe("fake-model", ChunkerSettings())


def _paragraph(topic: str, n: int) -> str:
    return (
        f"The {topic} report, section {n}, says that the committee examined the accounts of the "
        f"year and found the budget had been spent on repairs, salaries and training, with a "
        f"small surplus carried over to the next year for section {n} of the {topic} service."
    )


class Corpus:
    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "kb"
        self.folder.mkdir()
        self.store = FileStore(tmp_path / "idx")
        self.paragraphs = {
            "a.txt": [_paragraph("harbour", n) for n in range(4)],
            "b.txt": [_paragraph("school", n) for n in range(3)],
        }
        self.index = self.update()

    def update(self) -> SearchIndex:
        for name in list(self.paragraphs):
            path = self.folder / name
            text = "\n\n".join(self.paragraphs[name]) + "\n"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        self.index, _ = update_index(self.folder, self.store, RECIPE, FakeEmbedder())
        return self.index

    def quote(self, source: str, n: int) -> QuotedSpan:
        chunk = next(c for c in self.index.passages(source) if f"section {n}," in c.text)
        return QuotedSpan(chunk.source, chunk.start, chunk.end, chunk.text)

    def entries(self) -> list[ChangeEntry]:
        return self.store.read_changes()


def test_only_the_quotes_of_changed_passages_are_stale(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    answered = corpus.index.manifest.generation
    quotes = [corpus.quote("a.txt", 1), corpus.quote("a.txt", 2), corpus.quote("b.txt", 0)]
    corpus.paragraphs["a.txt"][2] = corpus.paragraphs["a.txt"][2].replace("repairs", "boats")
    corpus.paragraphs["a.txt"].insert(0, _paragraph("new", 9))  # shifts every offset after it
    corpus.update()
    assert stale_quotes(answered, quotes, corpus.entries()) == [1]
    assert stale_quotes(corpus.index.manifest.generation, quotes, corpus.entries()) == []


def test_a_moved_paragraph_is_not_stale_and_a_removed_document_is(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    answered = corpus.index.manifest.generation
    quotes = [corpus.quote("a.txt", 3), corpus.quote("b.txt", 1)]
    a = corpus.paragraphs["a.txt"]
    corpus.paragraphs["a.txt"] = [a[3], a[0], a[1], a[2]]
    corpus.update()
    assert stale_quotes(answered, quotes, corpus.entries()) == []
    del corpus.paragraphs["b.txt"]
    (corpus.folder / "b.txt").unlink()
    corpus.update()
    assert stale_quotes(answered, quotes, corpus.entries()) == [1]


def test_later_edits_match_by_text_after_offsets_moved(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    answered = corpus.index.manifest.generation
    quotes = [corpus.quote("a.txt", 3)]
    corpus.paragraphs["a.txt"].insert(0, _paragraph("new", 9))
    corpus.update()  # every paragraph moves one paragraph down the text
    corpus.paragraphs["a.txt"][3] = corpus.paragraphs["a.txt"][3].replace("salaries", "wages")
    corpus.update()  # paragraph 2, now where paragraph 3 was when the answer was given
    assert stale_quotes(answered, quotes, corpus.entries()) == []
    corpus.paragraphs["a.txt"][4] = corpus.paragraphs["a.txt"][4].replace("salaries", "wages")
    corpus.update()  # paragraph 3 itself, at offsets the answer never saw
    assert stale_quotes(answered, quotes, corpus.entries()) == [0]


def test_a_renamed_document_is_followed(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    answered = corpus.index.manifest.generation
    quotes = [corpus.quote("b.txt", 2)]
    corpus.paragraphs["c.txt"] = corpus.paragraphs.pop("b.txt")
    (corpus.folder / "b.txt").rename(corpus.folder / "c.txt")
    corpus.update()
    assert stale_quotes(answered, quotes, corpus.entries()) == []  # same text, new name
    corpus.paragraphs["c.txt"][2] = corpus.paragraphs["c.txt"][2].replace("training", "travel")
    corpus.update()
    assert stale_quotes(answered, quotes, corpus.entries()) == [0]


def test_an_answer_is_newly_stale_only_when_a_range_adds_a_mark(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    answered = corpus.index.manifest.generation
    quotes = [corpus.quote("a.txt", 1), corpus.quote("a.txt", 2)]
    corpus.paragraphs["b.txt"][0] = corpus.paragraphs["b.txt"][0].replace("repairs", "boats")
    untouched = corpus.update().manifest.generation
    corpus.paragraphs["a.txt"][2] = corpus.paragraphs["a.txt"][2].replace("repairs", "boats")
    first = corpus.update().manifest.generation
    corpus.paragraphs["a.txt"][2] = corpus.paragraphs["a.txt"][2].replace("salaries", "wages")
    again = corpus.update().manifest.generation
    corpus.paragraphs["a.txt"][1] = corpus.paragraphs["a.txt"][1].replace("salaries", "wages")
    second = corpus.update().manifest.generation
    entries = corpus.entries()
    assert newly_stale(answered, quotes, entries, answered, untouched) is None
    assert newly_stale(answered, quotes, entries, untouched, first) == (1,)
    assert newly_stale(answered, quotes, entries, first, again) is None  # already marked
    assert newly_stale(answered, quotes, entries, again, second) == (0, 1)  # every mark
    assert newly_stale(answered, quotes, entries, answered, second) == (0, 1)  # one poll for all
    assert newly_stale(second, quotes, entries, answered, second) is None  # answered after them


def test_with_a_pruned_entry_offsets_are_not_trusted(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    answered = corpus.index.manifest.generation
    quotes = [corpus.quote("a.txt", 3)]
    corpus.paragraphs["a.txt"].insert(0, _paragraph("new", 9))
    corpus.update()  # every paragraph moves down; this entry is then pruned
    corpus.paragraphs["a.txt"][3] = corpus.paragraphs["a.txt"][3].replace("salaries", "wages")
    corpus.update()  # paragraph 2, now at the offsets paragraph 3 had when answered
    pruned = [e for e in corpus.entries() if e.generation != answered + 1]
    assert [e.generation for e in pruned if e.generation > answered] == [answered + 2]
    assert stale_quotes(answered, quotes, pruned) == []
