"""Large knowledge bases made from real chunks and their real embeddings.

Embedding real text runs at roughly 40 passages a second here, so 100,000 chunks cannot be
embedded for a benchmark. Instead:

* the base is every chunk of the real documents (the bundled article and the two SQuAD articles),
  chunked by quotebot's chunker and embedded by the real model (cached on disk);
* every synthetic chunk joins runs of consecutive sentences taken from two random base chunks
  (from a random starting sentence, wrapping around), up to a length drawn from the real chunks'
  length distribution (never above the chunker's max_chars), so BM25 sees real vocabulary, real
  term statistics and real-length passages;
* its vector is the two parents' vectors mixed in proportion to the characters each contributed,
  plus Gaussian noise of about 0.35 of the mix's norm, renormalised: close to, but never equal to,
  any real vector, so the dense search ranks a realistic spread of cosines.

The real chunks themselves are kept, so the evaluation questions still have their answers.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, EVAL, ROOT

SYNTH_VERSION = 1
CHUNKS_PER_DOCUMENT = 100
NOISE = 0.35


@dataclass(frozen=True, slots=True)
class Base:
    chunks: list[Any]  # bot.ingest.chunking.Chunk
    vectors: np.ndarray
    model_id: str


def base_folders() -> list[Path]:
    return [ROOT / "knowledge", EVAL / "squad_dev" / "docs"]


def load_base(embedder: Any | None = None) -> Base:
    """Real chunks and their real vectors (embedded once, then cached by content hash)."""
    from bot.index.generation import embedding_input
    from bot.ingest.chunking import Chunk, ChunkerSettings, chunk_text
    from bot.ingest.documents import hash_files, read_document

    chunks: list[Chunk] = []
    for folder in base_folders():
        files, _ = hash_files(folder)
        for file in files:
            document = read_document(file)
            chunks.extend(
                chunk_text(f"{folder.name}/{file.source}", document.text, ChunkerSettings())
            )
    key = hashlib.sha256("\x00".join(c.text for c in chunks).encode()).hexdigest()[:16]
    cache = CACHE / f"base-{key}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return Base(chunks, data["vectors"], str(data["model_id"]))
    if embedder is None:
        from bench.common import real_embedder

        embedder = real_embedder()
    vectors = embedder.encode([embedding_input(c) for c in chunks])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, model_id=np.array(embedder.spec.model_id))
    return Base(chunks, vectors, embedder.spec.model_id)


def synthesize(base: Base, n_chunks: int, seed: int = 0) -> tuple[list[Any], np.ndarray]:
    """`n_chunks` chunks (the real ones first) and their float32 unit vectors."""
    from bot.ingest.chunking import Chunk
    from bot.shared.text import sentence_spans

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    sentences = [[c.text[a:b] for a, b in sentence_spans(c.text)] or [c.text] for c in base.chunks]
    lengths = [len(c.text) for c in base.chunks]
    real = [Chunk(f"real/{c.source}", c.start, c.end, c.text, c.paragraph) for c in base.chunks][
        :n_chunks
    ]
    n_new = n_chunks - len(real)
    texts: list[str] = []
    parents = np.zeros((max(n_new, 0), 2), dtype=np.int64)
    weights = np.zeros(max(n_new, 0), dtype=np.float32)
    for i in range(n_new):
        a, b = rng.sample(range(len(base.chunks)), 2)
        target = min(700, max(120, rng.choice(lengths)))
        pieces: list[str] = []
        used = {a: 0, b: 0}
        cursors = {a: rng.randrange(len(sentences[a])), b: rng.randrange(len(sentences[b]))}
        total = 0
        for parent in (a, b, a, b):
            run = rng.randint(1, 3)
            for _ in range(run):
                sentence = sentences[parent][cursors[parent] % len(sentences[parent])]
                cursors[parent] += 1
                if total and total + len(sentence) + 1 > 700:
                    break
                pieces.append(sentence)
                used[parent] += len(sentence)
                total += len(sentence) + 1
            if total >= target:
                break
        texts.append(" ".join(pieces)[:700].rstrip())
        parents[i] = (a, b)
        weights[i] = used[a] / max(used[a] + used[b], 1)
    if n_new > 0:
        mix = (
            weights[:, None] * base.vectors[parents[:, 0]]
            + (1 - weights[:, None]) * base.vectors[parents[:, 1]]
        )
        norms = np.linalg.norm(mix, axis=1, keepdims=True)
        noise = nrng.standard_normal(mix.shape).astype(np.float32)
        noise *= NOISE * norms / np.linalg.norm(noise, axis=1, keepdims=True)
        mixed = mix + noise
        synthetic_vectors = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    else:
        synthetic_vectors = np.zeros((0, base.vectors.shape[1]), dtype=np.float32)
    chunks = list(real)
    offset = 0
    for i, text in enumerate(texts):
        if i % CHUNKS_PER_DOCUMENT == 0:
            offset = 0
        source = f"synth/doc-{i // CHUNKS_PER_DOCUMENT:05d}.txt"
        chunks.append(Chunk(source, offset, offset + len(text), text, i % CHUNKS_PER_DOCUMENT + 1))
        offset += len(text) + 2
    vectors = np.concatenate([base.vectors[: len(real)], synthetic_vectors]).astype(np.float32)
    return chunks, np.ascontiguousarray(vectors)


def manifest_for(chunks: list[Any], model_id: str, dimension: int) -> Any:
    from bot.index.generation import DocumentRecord, IndexRecipe, Manifest
    from bot.ingest.chunking import ChunkerSettings

    per_source: dict[str, list[Any]] = {}
    for chunk in chunks:
        per_source.setdefault(chunk.source, []).append(chunk)
    documents = {}
    for source, group in per_source.items():
        text = "\n\n".join(c.text for c in group)
        documents[source] = DocumentRecord(
            source,
            hashlib.sha256(text.encode()).hexdigest(),
            len(text.encode()),
            len(group),
            len(text),
            "2026-01-01T00:00:00+00:00",
        )
    return Manifest(
        IndexRecipe(model_id, ChunkerSettings()),
        dimension,
        documents,
        generation=1,
        created_at="2026-01-01T00:00:00+00:00",
        model_info={"normalized": True, "synthetic": True},
    )


def memory_index(base: Base, n_chunks: int, seed: int = 0) -> Any:
    from bot.index.generation import MemoryIndex

    chunks, vectors = synthesize(base, n_chunks, seed)
    return MemoryIndex(manifest_for(chunks, base.model_id, vectors.shape[1]), chunks, vectors)


def store_dir(n_chunks: int) -> Path:
    return CACHE / f"store-v{SYNTH_VERSION}-{n_chunks}"


def ensure_store(base: Base, n_chunks: int, seed: int = 0) -> Path:
    """A real FileStore generation holding the synthetic index (written once, then reused)."""
    from bot.stores.files import FileStore

    folder = store_dir(n_chunks)
    marker = folder / "bench.json"
    if marker.exists():
        return folder
    chunks, vectors = synthesize(base, n_chunks, seed)
    store = FileStore(folder)
    store.commit(manifest_for(chunks, base.model_id, vectors.shape[1]), set(), chunks, vectors)
    marker.write_text(json.dumps({"chunks": n_chunks, "seed": seed, "version": SYNTH_VERSION}))
    return folder
