"""Processes the PostgreSQL tests start: a writer (that can pause mid-commit to be killed) and readers.

    python -m tests.pg_workers writer URL FOLDER VERSION [--pause-at STAGE]
    python -m tests.pg_workers reader URL SECONDS

Each document written for version N says `markerN` in every paragraph, so a reader can tell which
generation a passage came from: everything one question sees must carry one marker only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bot.index.generation import IndexRecipe
from bot.ingest.chunking import ChunkerSettings
from bot.stores.postgres.db import Database, PgOptions
from bot.stores.postgres.store import PgStore
from tests.fakes import FakeEmbedder

DOCUMENTS = 6
PARAGRAPHS = 8
RECIPE = IndexRecipe("fake-model", ChunkerSettings(300, 40, 50))


def write_version(folder: Path, version: int) -> None:
    """Every document changes on every version: an update replaces the whole corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in range(DOCUMENTS):
        paragraphs = [
            f"Orchard note {doc}-{p} marker{version}: apples and pears grow in row {p} of "
            f"field {doc}; the harvest of version {version} was counted twice."
            for p in range(PARAGRAPHS)
        ]
        (folder / f"doc{doc}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


def store(url: str, pause_at: str | None = None) -> PgStore:
    def on_stage(stage: str) -> None:
        print(f"stage {stage}", flush=True)
        if stage == pause_at:
            time.sleep(120)  # the test SIGKILLs us here, mid-transaction

    return PgStore(
        Database(url, PgOptions(retired_grace_seconds=0.5, connect_timeout=3)),
        lock_timeout=30,
        on_stage=on_stage,
    )


def writer(url: str, folder: Path, version: int, pause_at: str | None) -> None:
    from bot.index.update import update_index

    write_version(folder, version)
    _, report = update_index(folder, store(url, pause_at), RECIPE, FakeEmbedder())
    print(json.dumps({"done": version, "total": report.chunks_total}), flush=True)


def reader(url: str, seconds: float) -> None:
    """Answer the same question until time is up; report any question that saw two generations."""
    from bot.answering.compose import ComposeSettings, compose
    from bot.answering.retrieval import fuse_weighted
    from bot.shared.text import keyword_tokens

    pg = store(url)
    embedder = FakeEmbedder()
    index = pg.open()
    assert index is not None
    question = "how many apples and pears were counted in the harvest"
    vector = embedder.encode([question])[0]
    questions = mixed = 0
    generations: set[int] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        index = pg.latest(index)
        generations.add(index.manifest.generation)
        dense = index.dense(vector, 200)
        keyword = index.keyword(keyword_tokens(question), 200)
        hits = fuse_weighted(dense, keyword, 0.7)
        answer = compose(
            question, hits, index.chunk, index.idf, ComposeSettings.keep_all(3), decline_message=""
        )
        markers = {
            word
            for cid, _ in dense + keyword
            for word in index.chunk(cid).text.split()
            if word.startswith("marker")
        }
        complete = len(dense) == len(keyword) == index.manifest.chunk_count
        if len(markers) != 1 or not complete or not answer.quotes:
            mixed += 1
        questions += 1
    print(json.dumps({"questions": questions, "mixed": mixed, "generations": sorted(generations)}))


def main(argv: list[str]) -> None:
    if argv[0] == "writer":
        pause = argv[argv.index("--pause-at") + 1] if "--pause-at" in argv else None
        writer(argv[1], Path(argv[2]), int(argv[3]), pause)
    elif argv[0] == "reader":
        reader(argv[1], float(argv[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
