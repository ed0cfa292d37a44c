"""Which runtime embeds questions: the model's ONNX export (no torch) or sentence-transformers.

`[embedding] runtime = "onnx"` (the default): passages are embedded by sentence-transformers,
which was as fast as onnxruntime for batches (bench/encoders.py, docs/bench.md), and questions by
onnxruntime from a verified export kept beside the index, so answering from an up-to-date index
never imports torch. A process that writes the index makes the export when it is missing or
damaged; a reader (of a PostgreSQL index) never writes it and falls back to torch, with one
notice, as does every process when the model cannot be exported.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from bot.config import Settings
from bot.embedding.model import Embedder, ModelSpec, SentenceTransformerEmbedder, resolve_model
from bot.embedding.onnx_encoder import (
    EXPORT_RECIPE,
    META_FILE,
    WEIGHTS_FILE,
    ExportInvalid,
    ExportMeta,
    OnnxEncoder,
    export_folder,
)

log = logging.getLogger(__name__)
ONNX_ENCODER = "onnx-"  # how the id of an ONNX export's encoder starts (`question_encoder_id`)


Exporter = Callable[[Any, ModelSpec, Path], object]


@runtime_checkable
class QuestionEmbedder(Protocol):
    """An embedder with its own path for single questions (see QuoteService)."""

    def prepare_questions(self, *, writer: bool) -> None:
        """Decide the questions' runtime now (a writer may make the export); idempotent."""
        ...

    def encode_question(self, text: str) -> np.ndarray:
        """One L2-normalised float32 vector."""
        ...

    def encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) L2-normalised float32: short texts on the question path
        (the answer judge's sentences and words) in one call instead of one call each."""
        ...


class RuntimeEmbedder:
    """Passages through `model`; questions through the ONNX export under `exports` when sound."""

    def __init__(
        self,
        model: SentenceTransformerEmbedder,
        exports: Path,
        *,
        threads: int = 0,
        on_notice: Callable[[str], None] | None = None,
        exporter: Exporter | None = None,
    ) -> None:
        """`exporter` makes and installs a verified export (default: onnx_export.make_export)."""
        self._model = model
        self._exporter = exporter
        self._root = exports
        self._threads = threads
        self._notice = on_notice or (lambda message: log.info("%s", message))
        self._lock = threading.Lock()
        self._onnx: OnnxEncoder | None = None
        self._settled = False

    @property
    def spec(self) -> ModelSpec:
        return self._model.spec

    @property
    def dimension(self) -> int:
        return self._onnx.dimension if self._onnx is not None else self._model.dimension

    @property
    def max_seq_length(self) -> int:
        return self._model.max_seq_length

    @property
    def runtime(self) -> Literal["onnx", "torch"] | None:
        """Which runtime answers questions; None until decided."""
        if not self._settled:
            return None
        return "onnx" if self._onnx is not None else "torch"

    @property
    def question_encoder_id(self) -> str:
        """Which encoder embeds questions, exactly: "torch", or "onnx-" and a digest of the
        export's files (another export, e.g. a newer recipe's, gives vectors that differ in the
        last bits, so what was stored from one must not be read as the other's); "" until
        decided."""
        if not self._settled:
            return ""
        if self._onnx is None:
            return "torch"
        checksums = sorted(self._onnx.meta.checksums.items())
        return ONNX_ENCODER + hashlib.sha256(repr(checksums).encode()).hexdigest()[:16]

    @property
    def export_dir(self) -> Path:
        return export_folder(self._root, self.spec.model_id)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.encode(texts)

    def encode_question(self, text: str) -> np.ndarray:
        return self.encode_questions([text]).reshape(-1)

    def encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        if not self._settled:
            self.prepare_questions(writer=False)
        encoder = self._onnx
        if encoder is not None:
            try:
                return encoder.encode(texts)
            except Exception as exc:  # onnxruntime's own error types; never answer from it again
                self._onnx = None
                self._notice(f"the ONNX question encoder failed ({exc}); using the torch runtime")
        return self._model.encode(texts)

    def prepare_questions(self, *, writer: bool) -> None:
        if self._settled:
            return
        with self._lock:
            if not self._settled:
                self._onnx = self._open(writer)
                self._settled = True

    def _open(self, writer: bool) -> OnnxEncoder | None:
        model_id = self.spec.model_id
        folder = self.export_dir
        sound: OnnxEncoder | None = None
        try:
            sound = OnnxEncoder.load(folder, model_id, self._threads)
            problem = _outdated(sound.meta)
            if not writer or problem is None or not self._model.loaded:
                return sound
            # An export made by an older recipe (weights inside the graph: each reader holds
            # 48 MB more; not fused: a slower forward pass; docs/bench.md): sound, so a writer
            # that has loaded torch anyway (it embedded passages) remakes it once, and keeps it
            # if that fails; never loaded for this alone (a cold ask or the bot's start would
            # pay seconds, and the bot would keep torch resident).
        except ExportInvalid as exc:
            problem = str(exc)
        if not writer:
            self._notice(
                f"questions use the torch runtime: {problem} (the index writer, "
                "`quotebot index`, makes the ONNX export)"
            )
            return None
        from bot.embedding.onnx_export import (
            ExportRefused,
            make_export,
            record_refusal,
            recorded_refusal,
        )

        refused = recorded_refusal(self._root, model_id)
        if refused is not None:
            if sound is not None:
                return sound
            self._notice(f"questions use the torch runtime: cannot export the model ({refused})")
            return None
        missing = not (folder / META_FILE).exists()
        self._notice(
            "making the ONNX question encoder (once) ..."
            if missing
            else f"{problem}: rebuilding the ONNX question encoder ..."
        )
        try:
            (self._exporter or make_export)(self._model.load(), self.spec, self._root)
            return OnnxEncoder.load(folder, model_id, self._threads)
        except ExportRefused as exc:
            record_refusal(self._root, model_id, str(exc))
            problem = str(exc)
        except (ExportInvalid, OSError) as exc:  # disk full, permissions: try again next run
            problem = str(exc)
        if sound is not None:
            return sound
        self._notice(f"cannot export the model for onnxruntime ({problem}); using torch")
        return None


def _outdated(meta: ExportMeta) -> str | None:
    """Why a sound export is worth remaking by a writer that has torch loaded, if it is."""
    if WEIGHTS_FILE not in meta.checksums:
        return "the ONNX export keeps its weights inside the graph"
    if meta.recipe < EXPORT_RECIPE:
        return f"the ONNX export was made by an older recipe ({meta.recipe} < {EXPORT_RECIPE})"
    return None


def make_embedder(settings: Settings, on_notice: Callable[[str], None]) -> Embedder:
    """The embedder the settings ask for: sentence-transformers alone, or with ONNX questions."""
    config = settings.embedding
    model = SentenceTransformerEmbedder(
        resolve_model(config.model, config.revision),
        device=config.device,
        batch_size=config.batch_size,
        threads=config.threads,
        on_load=lambda name: on_notice(f"loading embedding model {name} ..."),
    )
    if config.runtime == "torch":
        return model
    return RuntimeEmbedder(
        model, settings.index_dir / "onnx", threads=config.threads, on_notice=on_notice
    )
