"""Questions embedded with onnxruntime + tokenizers from an ONNX export of the model: no torch.

Importing torch and sentence-transformers costs seconds and ~500 MB; one question needs neither.
The export (made and verified by `bot.embedding.onnx_export`) is a folder of these files:

    model.onnx       the model's Transformer module: token ids in, token embeddings out
    model.onnx.data  its weights, kept outside the graph so that onnxruntime memory-maps them
                     (exports made before 2026-12-03 have the weights inside model.onnx)
    tokenizer.json   the model's own fast tokenizer
    export.json      what to feed, how to pool and normalise (as the model's modules.json says),
                     the SHA-256 of the other files, how well it matched sentence-transformers,
                     how the graph was made (recipe, fused or plain)

`OnnxEncoder.load` checks every checksum before anything is used, so a damaged or swapped file
is refused (`ExportInvalid`), never run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

EXPORT_FORMAT = 1
# How an export is made, raised when a new recipe gives faster or leaner exports: a writer that
# has torch loaded anyway remakes an older one once (bot.embedding.questions). 1: traced as the
# model runs (export.json without "recipe"); 2: traced with eager attention and fused by
# onnxruntime's transformer optimizer where the model is BERT-like ("graph": fused or plain).
EXPORT_RECIPE = 2
MODEL_FILE = "model.onnx"
# Why the weights are a separate file: onnxruntime maps external weights instead of copying them
# into its heap, and a question only touches the rows of the word-embedding table (47 of the
# model's 87 MB) for its own tokens: -48 MB resident for the Discord bot (docs/bench.md).
WEIGHTS_FILE = "model.onnx.data"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "export.json"
# Pooling modes of sentence-transformers' Pooling module, in the order it concatenates them.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


class ExportInvalid(Exception):
    """The export is missing, damaged or made for another model; the message says which.

    Not a QuotebotError: the caller falls back to the torch runtime (and a writer rebuilds).
    """


@dataclass(frozen=True, slots=True)
class ExportMeta:
    """export.json: everything needed to turn text into the vectors sentence-transformers makes."""

    model_id: str
    inputs: tuple[str, ...]  # the graph's inputs, from: input_ids, attention_mask, token_type_ids
    pooling: tuple[str, ...]  # POOLING_MODES, concatenated in that order
    normalize: bool
    max_seq_length: int
    do_lower_case: bool
    dimension: int
    pad_id: int
    pad_token: str
    checksums: dict[str, str] = field(default_factory=dict)  # file name -> SHA-256
    probe_min_cosine: float = 0.0  # worst agreement with sentence-transformers at creation
    probes: int = 0
    libraries: dict[str, str] = field(default_factory=dict)
    recipe: int = 1  # EXPORT_RECIPE of the writer that made it; 1 for exports without it
    graph: str = "plain"  # "fused" by onnxruntime's transformer optimizer, or "plain" as traced
    graph_note: str = ""  # what was fused, or why the plain graph was kept
    format: int = EXPORT_FORMAT

    def to_json(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ExportMeta:
        try:
            raw = json.loads(data)
            if raw.get("format") != EXPORT_FORMAT:
                raise ExportInvalid(f"export format {raw.get('format')!r} is not {EXPORT_FORMAT}")
            raw["inputs"] = tuple(raw["inputs"])
            raw["pooling"] = tuple(raw["pooling"])
            meta = cls(**raw)
        except ExportInvalid:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ExportInvalid(f"{META_FILE} is unreadable ({type(exc).__name__})") from None
        unknown = [mode for mode in meta.pooling if mode not in POOLING_MODES]
        if unknown or not meta.pooling:
            raise ExportInvalid(f"{META_FILE} names unknown pooling {unknown or '(none)'}")
        return meta


def export_folder(root: Path, model_id: str) -> Path:
    """Where the export of `model_id` lives under `root` (one folder per model id)."""
    return root / f"model-{hashlib.sha256(model_id.encode()).hexdigest()[:16]}"


def read_meta(folder: Path) -> ExportMeta:
    try:
        data = (folder / META_FILE).read_bytes()
    except FileNotFoundError:
        raise ExportInvalid(f"no export at {folder}") from None
    except OSError as exc:
        raise ExportInvalid(f"cannot read {folder / META_FILE}: {exc.strerror}") from None
    return ExportMeta.from_json(data)


def check_file(folder: Path, name: str, meta: ExportMeta) -> None:
    """Refuse a file of the export unless it matches export.json's checksum.

    Hashed as a stream: the model is then opened by path, because onnxruntime keeps its own
    copy of a model handed in as bytes (+90 MB resident). An installed export is never changed
    in place (a writer swaps in a new, verified folder), so the checked file is the one opened.
    """
    expected = meta.checksums.get(name)
    try:
        with (folder / name).open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as exc:
        raise ExportInvalid(f"cannot read {folder / name}: {exc.strerror}") from None
    if expected is None or digest != expected:
        raise ExportInvalid(f"{folder / name} does not match its checksum (damaged or replaced)")


class OnnxEncoder:
    """Normalised float32 vectors from an export, as sentence-transformers would compute them."""

    def __init__(self, session: Any, tokenizer: Any, meta: ExportMeta) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.meta = meta

    @classmethod
    def load(cls, folder: Path, model_id: str, threads: int = 0) -> OnnxEncoder:
        """Open the export in `folder` for `model_id`; raises ExportInvalid if anything is off."""
        meta = read_meta(folder)
        if meta.model_id != model_id:
            raise ExportInvalid(f"the export at {folder} is of {meta.model_id}, not {model_id}")
        check_file(folder, MODEL_FILE, meta)
        if WEIGHTS_FILE in meta.checksums:  # older exports have their weights in model.onnx
            check_file(folder, WEIGHTS_FILE, meta)
        check_file(folder, TOKENIZER_FILE, meta)
        return cls.open(folder / MODEL_FILE, folder / TOKENIZER_FILE, meta, threads)

    @classmethod
    def open(
        cls, model: Path, tokenizer_file: Path, meta: ExportMeta, threads: int = 0
    ) -> OnnxEncoder:
        """The encoder of these files, unchecked (`load` checks them first)."""
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise ExportInvalid(f"cannot open the export: {type(exc).__name__}: {exc}") from None
        names = tuple(node.name for node in session.get_inputs())
        if set(names) != set(meta.inputs):
            raise ExportInvalid(f"the model takes {names}, export.json says {meta.inputs}")
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=meta.max_seq_length)
        return cls(session, tokenizer, meta)

    @property
    def dimension(self) -> int:
        return self.meta.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, rows L2-normalised (as the Embedder protocol says)."""
        if not texts:
            return np.zeros((0, self.meta.dimension), dtype=np.float32)
        if self.meta.do_lower_case:
            texts = [text.lower() for text in texts]
        if len(texts) > 1:
            self._tokenizer.enable_padding(pad_id=self.meta.pad_id, pad_token=self.meta.pad_token)
        else:
            self._tokenizer.no_padding()
        encodings = self._tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (tokens,) = self._session.run(None, {name: feed[name] for name in self.meta.inputs})
        vectors = pool(np.asarray(tokens, dtype=np.float32), feed["attention_mask"], self.meta)
        return normalized(vectors)


def pool(tokens: np.ndarray, mask: np.ndarray, meta: ExportMeta) -> np.ndarray:
    """sentence-transformers' Pooling (padded batches, padding on the right) in numpy.

    `tokens` is (batch, sequence, hidden), `mask` (batch, sequence) of 0/1.
    """
    weights = mask.astype(np.float32)[:, :, None]
    parts: list[np.ndarray] = []
    for mode in POOLING_MODES:
        if mode not in meta.pooling:
            continue
        if mode == "cls":
            first = mask.argmax(axis=1)
            parts.append(tokens[np.arange(len(tokens)), first])
        elif mode == "max":
            parts.append(np.where(weights > 0, tokens, -np.inf).max(axis=1))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            total = (tokens * weights).sum(axis=1)
            count = np.maximum(weights.sum(axis=1), 1e-9)
            parts.append(total / (count if mode == "mean" else np.sqrt(count)))
        elif mode == "weightedmean":
            positions = np.arange(1, tokens.shape[1] + 1, dtype=np.float32)[None, :, None]
            weighted = weights * positions
            total = (tokens * weighted).sum(axis=1)
            parts.append(total / np.maximum(weighted.sum(axis=1), 1e-9))
        else:  # lasttoken: the last real token (an all-padding row gives zeros)
            last = tokens.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
            parts.append((tokens * weights)[np.arange(len(tokens)), last])
    return np.concatenate(parts, axis=1).astype(np.float32)


def normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
