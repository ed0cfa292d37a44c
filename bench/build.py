"""Index build and update: embedding cost per 1,000 chunks, and what one changed document or an
unchanged folder costs as the folder grows (FakeEmbedder for the folder scaling, so only quotebot's
own work is timed; the real model for re-embedding the one changed document)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, child_env, stopwatch

CHUNKS_PER_DOC = 3


def embed_rate(base: Any, embedder: Any, n: int) -> dict[str, Any]:
    """Seconds to embed 1,000 chunks from scratch with the real model (a sample of real chunks)."""
    from bot.index.generation import embedding_input
    from bot.index.update import EMBED_BATCH

    texts = [embedding_input(c) for c in base.chunks]
    texts = (texts * (1 + n // len(texts)))[:n]
    embedder.encode(texts[:4])  # the model is loaded before timing
    with stopwatch() as t:
        for start in range(0, len(texts), EMBED_BATCH):
            embedder.encode(texts[start : start + EMBED_BATCH])
    mean_chars = sum(map(len, texts)) / len(texts)
    return {
        "sample_chunks": n,
        "mean_chunk_chars": round(mean_chars),
        "seconds": round(t[0], 2),
        "seconds_per_1000_chunks": round(t[0] * 1000 / n, 1),
        "chunks_per_second": round(n / t[0], 1),
    }


def make_folder(folder: Path, base: Any, n_docs: int) -> None:
    from bench.synth import synthesize

    chunks, _ = synthesize(base, len(base.chunks) + n_docs * CHUNKS_PER_DOC, seed=7)
    texts = [c.text for c in chunks[len(base.chunks) :]]
    folder.mkdir(parents=True)
    for i in range(n_docs):
        body = "\n\n".join(texts[i * CHUNKS_PER_DOC : (i + 1) * CHUNKS_PER_DOC])
        (folder / f"doc-{i:05d}.txt").write_text(f"Document {i}\n\n{body}\n", encoding="utf-8")


def folder_scaling(base: Any, real: Any, sizes: list[int]) -> list[dict[str, Any]]:
    from bot.index.generation import IndexRecipe
    from bot.index.update import update_index
    from bot.ingest.chunking import ChunkerSettings
    from bot.ingest.documents import hash_files
    from bot.stores.files import FileStore
    from tests.fakes import FakeEmbedder

    rows = []
    for n_docs in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="quotebot-bench-build-"))
        try:
            folder, index_dir = tmp / "knowledge", tmp / "index"
            make_folder(folder, base, n_docs)
            # Same model id as the real model, so a later `quotebot index` finds nothing to do.
            fake = FakeEmbedder(model_id=real.spec.model_id, dimension=384)
            recipe = IndexRecipe(real.spec.model_id, ChunkerSettings())
            with stopwatch() as t_build:
                _, report = update_index(folder, FileStore(index_dir), recipe, fake)
            store = FileStore(index_dir)
            with stopwatch() as t_cold:
                _, unchanged = update_index(folder, store, recipe, fake)
            with stopwatch() as t_warm:
                update_index(folder, store, recipe, fake)
            with stopwatch() as t_hash:
                hash_files(folder)
            _touch(folder / f"doc-{n_docs // 2:05d}.txt", "A sentence added to one document.")
            with stopwatch() as t_fake:
                _, changed = update_index(folder, store, recipe, fake)
            _touch(folder / f"doc-{n_docs // 3:05d}.txt", "Another sentence added later.")
            with stopwatch() as t_real:
                _, changed_real = update_index(folder, store, recipe, real)
            cli = cli_index(folder, index_dir) if n_docs == max(sizes) else None
            rows.append(
                {
                    "documents": n_docs,
                    "chunks": report.chunks_total,
                    "build_fake_embedder_s": round(t_build[0], 3),
                    "unchanged_check_cold_s": round(t_cold[0], 3),
                    "unchanged_check_warm_s": round(t_warm[0], 3),
                    "hash_only_s": round(t_hash[0], 3),
                    "one_changed_fake_embedder_s": round(t_fake[0], 3),
                    "one_changed_real_model_s": round(t_real[0], 3),
                    "one_changed_chunks_embedded": changed_real.chunks_embedded,
                    "unchanged_reported": len(unchanged.unchanged),
                    "changed_reported": len(changed.changed),
                    "cli_index_nothing_to_do": cli,
                }
            )
            print(
                f"  folder {n_docs} docs: unchanged {t_cold[0]:.3f}s cold / {t_warm[0]:.3f}s "
                f"warm; one changed {t_fake[0]:.3f}s fake, {t_real[0]:.3f}s real",
                file=sys.stderr,
                flush=True,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def cli_index(folder: Path, index_dir: Path) -> dict[str, Any]:
    """`quotebot index` in a fresh process with nothing to do: wall time, and no torch imported."""
    command = [
        PYTHON,
        "-X",
        "importtime",
        "-m",
        "bot",
        "--knowledge",
        str(folder),
        "--index-dir",
        str(index_dir),
        "index",
        "--json",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    from bench.startup import heavy_modules

    return {
        "wall_s": round(wall, 3),
        "exit": done.returncode,
        "heavy_imported": heavy_modules(done.stderr),
        "stdout_tail": done.stdout.strip()[-200:] if done.returncode else None,
    }


def _touch(path: Path, sentence: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"\n{sentence}\n", encoding="utf-8")
