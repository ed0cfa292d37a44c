"""What the changelog costs an update: the passage diff and the changelog write, against the whole
update (FakeEmbedder, so embedding does not hide quotebot's own work), and its size on disk.

    .venv/bin/python -m bench.changelog [--documents 1000] [--updates 30]

Each update rewrites one sentence of one paragraph in each of `--edited` documents of a folder of `--documents`
documents of 12 paragraphs (~12,000 passages at the default); one large document of 2,000
passages is also diffed alone with a sentence edited in a tenth of its paragraphs.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = [
    "harbour",
    "council",
    "budget",
    "library",
    "bridge",
    "market",
    "museum",
    "school",
    "river",
    "report",
    "section",
    "committee",
    "accounts",
    "salaries",
    "repairs",
    "training",
    "surplus",
    "year",
    "service",
    "members",
    "tariffs",
    "channel",
    "dredging",
    "loan",
    "ferry",
    "tourists",
    "season",
    "hotel",
    "weather",
    "lighthouse",
    "keeper",
    "station",
    "storm",
    "records",
]


def _paragraph(rng: random.Random) -> str:
    sentences = [" ".join(rng.choices(WORDS, k=14)).capitalize() + "." for _ in range(3)]
    return " ".join(sentences)


def _edit(paragraph: str, rng: random.Random) -> str:
    """One of the paragraph's three sentences rewritten: the paragraph is "changed", not new."""
    sentences = paragraph.split(". ")
    sentences[rng.randrange(len(sentences))] = " ".join(rng.choices(WORDS, k=14)).capitalize()
    return ". ".join(s.rstrip(".") for s in sentences) + "."


def _write(path: Path, paragraphs: list[str]) -> None:
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


def run(documents: int, updates: int, edited: int, seed: int = 0) -> dict[str, Any]:
    from bot.index.diff import Reread, diff_passages, document_changes
    from bot.index.generation import IndexRecipe
    from bot.index.update import update_index
    from bot.ingest.chunking import ChunkerSettings, chunk_text
    from bot.stores.files import CHANGES, FileStore
    from tests.fakes import FakeEmbedder

    rng = random.Random(seed)
    recipe = IndexRecipe("fake-model", ChunkerSettings())
    diff_seconds: list[float] = []
    totals: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder, store = Path(tmp) / "kb", FileStore(Path(tmp) / "idx")
        folder.mkdir()
        texts = {n: [_paragraph(rng) for _ in range(12)] for n in range(documents)}
        for n, paragraphs in texts.items():
            _write(folder / f"doc{n:05}.txt", paragraphs)
        embedder = FakeEmbedder(dimension=384)
        index, _ = update_index(folder, store, recipe, embedder)
        for _ in range(updates):
            before = index
            touched = rng.sample(sorted(texts), edited)
            for n in touched:
                position = rng.randrange(12)
                texts[n][position] = _edit(texts[n][position], rng)
                _write(folder / f"doc{n:05}.txt", texts[n])
            started = time.perf_counter()
            index, _ = update_index(folder, store, recipe, embedder)
            totals.append(time.perf_counter() - started)
            # The diff the update just ran, again on its own (same inputs), to time its share.
            reread = {
                f"doc{n:05}.txt": Reread(
                    (folder / f"doc{n:05}.txt").read_text(encoding="utf-8"),
                    index.passages(f"doc{n:05}.txt"),
                )
                for n in touched
            }
            started = time.perf_counter()
            document_changes(
                before.manifest.documents, index.manifest.documents, reread, before.passages
            )
            diff_seconds.append(time.perf_counter() - started)
        chunks = index.manifest.chunk_count
        current = (store.directory / "CURRENT").read_text()
        changelog_bytes = (store.directory / current / CHANGES).stat().st_size
        kept = store.read_changes()
        entries = len(kept)
        sizes = [len(json.dumps(e.to_json(), ensure_ascii=False).encode()) for e in kept]

    big = [_paragraph(rng) for _ in range(2000)]
    old_text = "\n\n".join(big)
    for position in rng.sample(range(2000), 200):
        big[position] = _edit(big[position], rng)
    new_text = "\n\n".join(big)
    old = chunk_text("big.txt", old_text, ChunkerSettings())
    new = chunk_text("big.txt", new_text, ChunkerSettings())
    started = time.perf_counter()
    changes = diff_passages(old, new)
    big_seconds = time.perf_counter() - started
    return {
        "documents": documents,
        "chunks": chunks,
        "updates": updates,
        "edited_documents_per_update": edited,
        "update_seconds_median": round(sorted(totals)[len(totals) // 2], 4),
        "diff_seconds_median": round(sorted(diff_seconds)[len(diff_seconds) // 2], 4),
        "diff_share_of_update": round(sum(diff_seconds) / sum(totals), 4),
        "changelog_entries": entries,
        "changelog_bytes": changelog_bytes,
        "first_entry_bytes": sizes[0],  # every document added: no passages, one line each
        "edit_entry_bytes_median": sorted(sizes[1:])[len(sizes[1:]) // 2] if sizes[1:] else 0,
        "large_document": {
            "passages_old": len(old),
            "passages_new": len(new),
            "paragraphs_edited": 200,
            "changes": len(changes),
            "changed": sum(c.kind == "changed" for c in changes),
            "diff_seconds": round(big_seconds, 4),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--edited", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.documents, args.updates, args.edited), indent=1))


if __name__ == "__main__":
    main()
