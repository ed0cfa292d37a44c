"""Quality of quotebot and three paragraph baselines on the same folder and questions.

Everything is scored by `bot.evaluation.questions.evaluate`, so the metrics mean the same thing for all.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.baselines import ParagraphSearch
from bench.common import QuestionSet, settings_for

SYSTEMS = ("quotebot", "bm25 paragraphs", "dense paragraphs", "rrf paragraphs")


class CachingEmbedder:
    """The same model, remembering each text's vector: every system embeds the same questions,
    and vectors are deterministic, so scoring four systems costs one embedding per question."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._cache: dict[str, Any] = {}

    @property
    def spec(self) -> Any:
        return self._inner.spec

    @property
    def dimension(self) -> int:
        return int(self._inner.dimension)

    def encode(self, texts: Any) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self._inner.encode(missing), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)


def run_set(qset: QuestionSet, embedder: Any, *, float16: bool = True) -> list[dict[str, Any]]:
    from bot.cli import compose_service
    from bot.evaluation.questions import evaluate, load_questions
    from bot.index.generation import MemoryIndex

    questions = load_questions(qset.questions)
    embedder = CachingEmbedder(embedder)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="quotebot-bench-") as tmp:
        service = compose_service(
            settings_for(qset.knowledge, Path(tmp) / "index"),
            embedder=embedder,
            on_notice=lambda m: None,
        )
        service.refresh()
        index = service.index
        systems: list[tuple[str, Any]] = [("quotebot", service)]
        systems += [
            (f"{method} paragraphs", ParagraphSearch(method, qset.knowledge, embedder))
            for method in ("bm25", "dense", "rrf")
        ]
        for name, system in systems:
            start = time.perf_counter()
            report = evaluate(system, questions)
            rows.append(_row(qset, name, report, time.perf_counter() - start, len(questions)))
        if float16 and isinstance(index, MemoryIndex):
            # The contrast to the default float16 memory layout: exact float32 vectors, read
            # back from the same generation on disk.
            from bot.stores.files import FileStore

            exact = FileStore(Path(tmp) / "index", memory_dtype="float32").open()
            assert exact is not None
            service._index = exact
            start = time.perf_counter()
            report = evaluate(service, questions)
            rows.append(
                _row(
                    qset,
                    "quotebot (float32 vectors)",
                    report,
                    time.perf_counter() - start,
                    len(questions),
                )
            )
    for row in rows:
        print(
            f"  {qset.name:10} {row['system']:28} hit@1 {row['hit_at_1']:.3f} "
            f"hit@3 {row['hit_at_3']:.3f} MRR {row['mrr_at_10']:.3f}",
            file=sys.stderr,
            flush=True,
        )
    return rows


def _row(qset: QuestionSet, name: str, report: Any, seconds: float, n: int) -> dict[str, Any]:
    return {
        "set": qset.name,
        "knowledge": str(qset.knowledge),
        "questions_file": str(qset.questions),
        "system": name,
        **report.to_json(),
        "seconds": round(seconds, 2),
        "ms_per_question": round(seconds * 1e3 / max(n, 1), 1),
    }


def formats_supported() -> bool:
    from bot.ingest.documents import SUFFIXES

    return ".html" in SUFFIXES and ".pdf" in SUFFIXES
