"""Shared helpers for the benchmarks: paths, question sets, the real embedder, stats, RSS."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("QUOTEBOT_EVAL_DIR", ROOT.parent / "shared" / "eval"))
RESULTS = ROOT / "bench" / "results"
CACHE = RESULTS / "cache"
PYTHON = os.environ.get("BENCH_PYTHON") or __import__("sys").executable


@dataclass(frozen=True, slots=True)
class QuestionSet:
    name: str
    knowledge: Path
    questions: Path


def question_sets() -> list[QuestionSet]:
    """The shared development sets that exist on this machine."""
    sets = [
        QuestionSet("seed_dev", ROOT / "knowledge", EVAL / "seed_dev.jsonl"),
        QuestionSet(
            "squad_dev", EVAL / "squad_dev" / "docs", EVAL / "squad_dev" / "questions.jsonl"
        ),
    ]
    return [s for s in sets if s.knowledge.is_dir() and s.questions.is_file()]


def formats_set() -> QuestionSet | None:
    folder = EVAL / "formats"
    if not (folder / "docs").is_dir():
        return None
    return QuestionSet("formats", folder / "docs", folder / "questions.jsonl")


def real_embedder() -> Any:
    """The bundled MiniLM model, exactly as the service would load it (threads as configured,
    QUOTEBOT_EMBEDDING__THREADS included)."""
    import os

    from bot.config import BUNDLED_MODEL, EmbeddingSettings
    from bot.embedding.model import SentenceTransformerEmbedder, resolve_model

    threads = int(os.environ.get("QUOTEBOT_EMBEDDING__THREADS", EmbeddingSettings().threads))
    return SentenceTransformerEmbedder(resolve_model(BUNDLED_MODEL), threads=threads)


def settings_for(knowledge: Path, index_dir: Path, **sections: Any) -> Any:
    from bot.config import load_settings

    overrides: dict[str, Any] = {"knowledge": {"path": knowledge}, "index": {"dir": index_dir}}
    overrides.update(sections)
    return load_settings(None, overrides)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3) if values else float("nan"),
        "mean": round(statistics.fmean(values), 3) if values else float("nan"),
        "n": len(values),
    }


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process image, in MiB.

    VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child started by a large
    parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then t[0] is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def child_env() -> dict[str, str]:
    """Environment for subprocesses: this worktree's `bot` first, offline model."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env
