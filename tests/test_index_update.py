"""Incremental updates, counted with a recording fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.index.generation import IndexRecipe
from bot.index.update import update_index
from bot.ingest.chunking import ChunkerSettings
from bot.ingest.documents import content_hash
from bot.ingest.extraction import EXTRACTOR_VERSION
from bot.stores.files import FileStore
from tests.fakes import FakeEmbedder

RECIPE = IndexRecipe("fake-model", ChunkerSettings())


def _folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(count):
        (folder / f"doc{i:03}.txt").write_text(f"Document {i} talks about subject {i}. " * 3)
    return folder


def test_only_added_and_changed_documents_are_embedded(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 200)
    store = FileStore(tmp_path / "idx")
    embedder = FakeEmbedder()
    _, first = update_index(folder, store, RECIPE, embedder)
    assert len(first.added) == 200 and first.chunks_embedded == 200

    embedder.calls.clear()
    (folder / "doc007.txt").write_text("Edited text about a new subject.")
    (folder / "new.md").write_text("# Added\n\nA fresh document.")
    (folder / "doc100.txt").unlink()
    index, report = update_index(folder, store, RECIPE, embedder)
    assert report.changed == ["doc007.txt"] and report.added == ["new.md"]
    assert report.removed == ["doc100.txt"] and len(report.unchanged) == 198
    assert sorted(embedder.embedded) == [
        "# Added A fresh document.",
        "Edited text about a new subject.",
    ]
    assert report.chunks_total == len(index.manifest.documents) == 200 + 1 - 1


def test_unchanged_folder_never_touches_the_model(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 3)
    store = FileStore(tmp_path / "idx")
    update_index(folder, store, RECIPE, FakeEmbedder())
    untouched = FakeEmbedder()
    _, report = update_index(folder, FileStore(tmp_path / "idx"), RECIPE, untouched)
    assert untouched.calls == [] and report.chunks_embedded == 0 and not report.changed_anything


def test_unchanged_vectors_are_reused_exactly(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 3)
    store = FileStore(tmp_path / "idx")
    before, _ = update_index(folder, store, RECIPE, FakeEmbedder())
    (folder / "doc001.txt").write_text("Something else entirely.")
    after, _ = update_index(folder, store, RECIPE, FakeEmbedder())
    old = {c.source: before.vectors[i] for i, c in enumerate(before.chunks)}  # type: ignore[attr-defined]
    new = {c.source: after.vectors[i] for i, c in enumerate(after.chunks)}  # type: ignore[attr-defined]
    assert (old["doc000.txt"] == new["doc000.txt"]).all()
    assert not (old["doc001.txt"] == new["doc001.txt"]).all()


@pytest.mark.parametrize(
    "recipe",
    [
        IndexRecipe("other-model-same-dimension", ChunkerSettings()),
        IndexRecipe("fake-model", ChunkerSettings(max_chars=300)),
    ],
)
def test_a_different_model_or_chunker_rebuilds_everything(
    tmp_path: Path, recipe: IndexRecipe
) -> None:
    folder = _folder(tmp_path, 4)
    store = FileStore(tmp_path / "idx")
    update_index(folder, store, RECIPE, FakeEmbedder())
    embedder = FakeEmbedder(recipe.model_id)
    _, report = update_index(folder, store, recipe, embedder)
    assert report.rebuild_reason and len(report.changed) == 4
    assert report.chunks_embedded == 4 and len(embedder.embedded) == 4


def test_broken_files_are_skipped_and_remembered(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    (folder / "broken.txt").write_bytes(bytes(range(128, 256)) * 8)
    (folder / "empty.md").write_text("")
    store = FileStore(tmp_path / "idx")
    index, report = update_index(folder, store, RECIPE, FakeEmbedder())
    assert sorted(index.manifest.documents) == ["doc000.txt", "doc001.txt"]
    assert len(report.warnings) == 2 and "broken.txt" in report.warnings[0]
    _, again = update_index(folder, store, RECIPE, FakeEmbedder())
    assert len(again.warnings) == 2 and not again.changed_anything


def test_files_refused_by_an_older_reader_are_read_again_without_re_embedding(
    tmp_path: Path,
) -> None:
    """An index made before charset detection holds "not valid UTF-8" skip records for Latin-1
    files: they are examined again (once), while indexed documents stay as they are."""
    folder = _folder(tmp_path, 2)
    store = FileStore(tmp_path / "idx")
    update_index(folder, store, RECIPE, FakeEmbedder())
    latin = folder / "latin.txt"
    latin.write_bytes("Le café est fermé à cause de la grève.".encode("latin-1"))
    manifest_path = store.directory / (store.directory / "CURRENT").read_text() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    sha = content_hash(latin, latin.read_bytes())
    manifest["skipped"] = {
        "latin.txt": {
            "source": "latin.txt",
            "sha256": sha,
            "reason": "not valid UTF-8 (byte 6)",
            "extractor": EXTRACTOR_VERSION,  # what the older reader wrote
        }
    }
    manifest_path.write_text(json.dumps(manifest))
    embedder = FakeEmbedder()
    index, report = update_index(folder, FileStore(store.directory), RECIPE, embedder)
    assert report.added == ["latin.txt"] and len(report.unchanged) == 2
    assert report.chunks_embedded == 1 and report.warnings == []
    assert index.manifest.documents["latin.txt"].encoding == "cp1252"
    assert index.manifest.skipped == {}


def test_corrupt_index_is_reported_and_rebuilt(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    store = FileStore(tmp_path / "idx")
    update_index(folder, store, RECIPE, FakeEmbedder())
    generation = store.directory / (store.directory / "CURRENT").read_text()
    (generation / "vectors.npy").write_bytes(b"garbage")
    index, report = update_index(folder, FileStore(store.directory), RECIPE, FakeEmbedder())
    assert report.rebuild_reason and "checksum" in report.rebuild_reason
    assert [n for n in report.notices() if "re-embedding everything" in n] == report.notices()[:1]
    assert report.chunks_embedded == 2 and len(index.manifest.documents) == 2


def test_empty_knowledge_folder_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(KnowledgeError, match="no readable"):
        update_index(folder, FileStore(tmp_path / "idx"), RECIPE, FakeEmbedder())


def test_no_documents_names_the_formats_read(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(KnowledgeError) as raised:
        update_index(folder, FileStore(tmp_path / "idx"), RECIPE, FakeEmbedder())
    assert str(raised.value) == (
        f"no readable documents (.txt .md .html .pdf) in the knowledge folder {folder}"
    )
