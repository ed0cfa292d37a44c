"""Make the ONNX export of a sentence-transformers model, and prove it before it is used.

Runs only in a writer (`quotebot index`, or the first run that needs it), where torch is loaded
anyway to embed passages. The model's Transformer module is exported with dynamic batch and
sequence axes (torch.onnx's TorchScript exporter: offline, no onnxscript needed), traced with
eager attention and fused by onnxruntime's transformer optimizer when the model is BERT-like
(9-11 % off a question's forward pass, docs/bench.md; the default SDPA attention traces into a
pattern the optimizer does not fuse), its weights moved to a file of their own (onnxruntime
maps it instead of copying it); pooling and
normalisation are not exported but read from the model's own modules.json, Pooling config
and sentence_bert_config.json and done in numpy (`bot.embedding.onnx_encoder.pool`). The export is kept
only if every probe text gives a vector within `MAX_COSINE_GAP` of sentence-transformers' own,
encoded one at a time (as questions are) and as a padded batch. A fused graph that fails in
any way (optimizer error, attention left unfused, probes off) gives way to the plain graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.embedding.model import ModelSpec
from bot.embedding.onnx_encoder import (
    EXPORT_RECIPE,
    META_FILE,
    MODEL_FILE,
    POOLING_MODES,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    ExportMeta,
    OnnxEncoder,
    export_folder,
)
from bot.shared.atomic_write import write_atomically

log = logging.getLogger(__name__)

MAX_COSINE_GAP = 1e-4
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
REFUSED_SUFFIX = ".refused.json"
# Fixed probes: questions like users ask, a passage longer than max_seq_length (truncation),
# non-Latin scripts, emoji, digits and punctuation, a single character.
PROBES = (
    "How many grassroots party organizations are there in Jingzhou?",
    "What is the third measure?",
    "Who appointed them?",
    "And the second?",
    "When was the article published?",
    "Tell me more",
    "Why?",
    "a",
    "   leading and trailing spaces   ",
    "Numbers 1,234.56 and dates 2010-03-17, percentages 45% & symbols #@!",
    "Ünïcödé façade — naïve café; Straße; Ελληνικά; русский текст",
    "中文测试：荆州市基层党组织建设",
    "日本語のテキストとカタカナ",
    "emoji 🙂🚀 and tabs\tand\nnewlines",
    "The quick brown fox jumps over the lazy dog. " * 60,
    "In 2010, the municipal party committee launched a campaign to strengthen grassroots "
    "organizations in rural villages, urban communities, enterprises and schools, appointing "
    "first secretaries and training cadres in every township.",
)
# Hugging Face model types whose encoder layers are those onnxruntime's "bert" fusions match
# (the mapping Optimum uses for these types); anything else keeps the graph as traced. A listed
# type is still checked: every attention layer fused, and the probes within MAX_COSINE_GAP.
OPTIMIZER_TYPES = {
    "bert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "camembert": "bert",
    "electra": "bert",
}
LIBRARIES = ("torch", "transformers", "sentence-transformers", "onnxruntime", "tokenizers")


class ExportRefused(Exception):
    """The model cannot be exported or the export does not match; the message says why."""


class NotFused(Exception):
    """The transformer optimizer was not used or did not fuse the graph; the plain one is kept."""


# (traced graph, the model's transformers config) -> the fused graph and what was fused.
Fuser = Callable[[Path, Any], tuple[Any, str]]


@dataclass(frozen=True, slots=True)
class ModelLayout:
    """What the model folder's own files say about turning token embeddings into a vector."""

    transformer_folder: Path
    pooling: tuple[str, ...]
    normalize: bool
    max_seq_length: int | None
    do_lower_case: bool


def read_layout(folder: Path) -> ModelLayout:
    """Read modules.json, the Pooling config and sentence_bert_config.json of a model folder.

    Only Transformer -> Pooling [-> Normalize] models are supported (like all-MiniLM-L6-v2);
    anything else (Dense layers, static embeddings, routers) is refused, naming the module.
    """
    modules = _read_json(folder / "modules.json", "modules.json")
    if not isinstance(modules, list) or not modules:
        raise ExportRefused(f"{folder / 'modules.json'} lists no modules")
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    unsupported = [
        str(module.get("type"))
        for module, kind in zip(modules, kinds, strict=True)
        if kind not in ("Transformer", "Pooling", "Normalize")
    ]
    if unsupported or kinds[:2] != ["Transformer", "Pooling"] or len(set(kinds)) != len(kinds):
        what = ", ".join(unsupported) if unsupported else " -> ".join(kinds)
        raise ExportRefused(
            f"the model's modules ({what}) are not Transformer -> Pooling [-> Normalize]"
        )
    transformer = folder / str(modules[0].get("path", ""))
    pooling_config = _read_json(folder / str(modules[1].get("path", "")) / "config.json", "Pooling")
    st_config_file = transformer / "sentence_bert_config.json"
    st_config = (
        _read_json(st_config_file, "sentence_bert_config") if st_config_file.is_file() else {}
    )
    max_seq_length = st_config.get("max_seq_length")
    return ModelLayout(
        transformer,
        _pooling_modes(pooling_config),
        "Normalize" in kinds,
        int(max_seq_length) if max_seq_length is not None else None,
        bool(st_config.get("do_lower_case", False)),
    )


def _pooling_modes(config: dict[str, Any]) -> tuple[str, ...]:
    """Both spellings: `pooling_mode` (str or list) and the older `pooling_mode_*_token(s)` flags."""
    if "pooling_mode" in config:
        raw = config["pooling_mode"]
        modes = (raw,) if isinstance(raw, str) else tuple(raw)
    else:
        legacy = {
            "pooling_mode_cls_token": "cls",
            "pooling_mode_max_tokens": "max",
            "pooling_mode_mean_tokens": "mean",
            "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens": "weightedmean",
            "pooling_mode_lasttoken": "lasttoken",
        }
        modes = tuple(mode for key, mode in legacy.items() if config.get(key)) or ("mean",)
    unknown = [mode for mode in modes if mode not in POOLING_MODES]
    if unknown:
        raise ExportRefused(f"unsupported pooling mode {unknown[0]!r}")
    if config.get("include_prompt") is False:
        raise ExportRefused("pooling without the prompt (include_prompt = false) is not supported")
    return tuple(mode for mode in POOLING_MODES if mode in modes)  # concatenation order


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportRefused(f"the model folder has no {what} file ({path})") from None
    except (OSError, ValueError) as exc:
        raise ExportRefused(f"cannot read {path}: {exc}") from None


def model_folder(spec: ModelSpec) -> Path:
    """The folder holding the model's files: a local path, or its snapshot in the HF cache."""
    path = Path(spec.load_path)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(spec.load_path, revision=spec.revision, local_files_only=True)
        )
    except Exception as exc:  # not cached, bad name: many types
        raise ExportRefused(f"no local copy of {spec.load_path!r} ({type(exc).__name__})") from None


def make_export(
    model: Any, spec: ModelSpec, root: Path, *, fuse: Fuser | None = None
) -> ExportMeta:
    """Export `model` (a loaded SentenceTransformer of `spec`) under `root`, verified, or refuse.

    The files are written to a temporary folder and moved into place only once verified, so a
    reader sees the old export, no export, or the new one; never a half-written or unproven one.
    `fuse` turns the traced graph into a faster one (default: `fuse_graph`); whatever it does
    wrong, the plain graph is exported instead.
    """
    layout = read_layout(model_folder(spec))
    tokenizer_file = layout.transformer_folder / TOKENIZER_FILE
    if not tokenizer_file.is_file():
        raise ExportRefused(f"the model has no fast tokenizer file ({tokenizer_file})")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        tokenizer_json = tokenizer_file.read_bytes()
        (tmp / TOKENIZER_FILE).write_bytes(tokenizer_json)
        meta = _describe(model, spec, layout, tokenizer_json)
        traced = tmp / "traced.onnx"
        config = getattr(getattr(model[0], "auto_model", None), "config", None)
        eager = config is not None and _optimizer_type(config) is not None
        with _attention(model, "eager" if eager else None):
            _export_transformer(model, meta, tokenizer_json, traced)
        meta = _fused_or_plain(model, meta, tmp, traced, config, fuse or fuse_graph)
        traced.unlink()
        (tmp / META_FILE).write_bytes(meta.to_json())
        _fsync_all(tmp)
        _install(tmp, export_folder(root, spec.model_id))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _fused_or_plain(
    model: Any, meta: ExportMeta, tmp: Path, traced: Path, config: Any, fuse: Fuser
) -> ExportMeta:
    """Install the fused graph in `tmp` if it is made and verified, else the traced one (verified
    too, or ExportRefused); the returned meta has the checksums, probe result and graph kind."""
    if config is None:
        reason = "the model has no transformers config"
    else:
        try:
            fused, note = fuse(traced, config)
            _save_with_weights_apart(fused, tmp / MODEL_FILE)
            return _verified(model, replace(meta, graph="fused", graph_note=note), tmp)
        except (NotFused, ExportRefused) as exc:
            reason = str(exc)
        except Exception as exc:  # the optimizer and onnx raise many types; never fatal
            reason = f"{type(exc).__name__}: {exc}"
    log.info("ONNX export: the plain graph is kept (%s)", reason)
    _save_with_weights_apart(_load_graph(traced), tmp / MODEL_FILE)
    return _verified(model, replace(meta, graph="plain", graph_note=reason), tmp)


def _verified(model: Any, meta: ExportMeta, tmp: Path) -> ExportMeta:
    meta = replace(
        meta,
        checksums={
            name: _sha256(tmp / name) for name in (MODEL_FILE, WEIGHTS_FILE, TOKENIZER_FILE)
        },
    )
    encoder = OnnxEncoder.open(tmp / MODEL_FILE, tmp / TOKENIZER_FILE, meta, threads=1)
    return replace(meta, probe_min_cosine=verify(model, encoder), probes=len(PROBES))


def _optimizer_type(config: Any) -> str | None:
    """The optimizer's model type for this transformers config, if it is one it fuses."""
    try:
        from onnxruntime.transformers.optimizer import MODEL_TYPES
    except ImportError:  # it needs sympy, which torch brings; `fuse_graph` says so
        return None
    kind = OPTIMIZER_TYPES.get(str(getattr(config, "model_type", "")))
    return kind if kind in MODEL_TYPES else None


def fuse_graph(traced: Path, config: Any) -> tuple[Any, str]:
    """onnxruntime's transformer optimizer on the eager-attention trace (its fusions only:
    onnxruntime applies its own graph optimisations when a session loads the graph).

    NotFused unless the model type is BERT-like and every attention layer was fused: a partly
    fused graph measured no faster than the plain one (docs/bench.md)."""
    from onnxruntime.transformers.optimizer import optimize_model

    kind = _optimizer_type(config)
    if kind is None:
        raise NotFused(
            f"model type {getattr(config, 'model_type', None)!r} is not one onnxruntime's "
            "transformer optimizer fuses here"
        )
    layers = int(config.num_hidden_layers)
    with _quiet_optimizer():
        optimized = optimize_model(
            str(traced),
            model_type=kind,
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
        )
    fused = {
        name: count for name, count in optimized.get_fused_operator_statistics().items() if count
    }
    if fused.get("Attention", 0) != layers:
        raise NotFused(f"{fused.get('Attention', 0)} of {layers} attention layers fused")
    return optimized.model, ", ".join(f"{name} {count}" for name, count in sorted(fused.items()))


@contextmanager
def _quiet_optimizer() -> Iterator[None]:
    """The optimizer's modules log each fusion under their bare module names (it puts its folder
    on sys.path); that progress is not the user's, so only errors pass while it runs."""
    from onnxruntime.transformers import optimizer

    folder = str(Path(optimizer.__file__).parent)
    loggers = [
        logging.getLogger(name)
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", None) or "").startswith(folder)
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def _attention(model: Any, implementation: str | None) -> Iterator[None]:
    """The Transformer module runs with `implementation` inside, as before after (the writer
    embeds passages with the same model, with its own attention)."""
    auto = getattr(model[0], "auto_model", None)
    setter = getattr(auto, "set_attn_implementation", None)
    before = getattr(getattr(auto, "config", None), "_attn_implementation", None)
    if implementation is None or setter is None or before in (None, implementation):
        yield
        return
    switched = False
    try:
        setter(implementation)
        switched = True
    except Exception as exc:  # a model without that implementation: traced as it runs
        log.info("ONNX export: traced with %s attention (%s)", before, exc)
    try:
        yield
    finally:
        if switched:
            setter(before)


def _describe(
    model: Any, spec: ModelSpec, layout: ModelLayout, tokenizer_json: bytes
) -> ExportMeta:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    pad_id, pad_token = _padding(tokenizer, layout.transformer_folder)
    features = _features(model, ["probe"])
    # sentence-transformers 5 renamed get_sentence_embedding_dimension
    dimension = getattr(model, "get_embedding_dimension", None) or (
        model.get_sentence_embedding_dimension
    )
    return ExportMeta(
        model_id=spec.model_id,
        inputs=tuple(name for name in INPUTS if name in features),
        pooling=layout.pooling,
        normalize=layout.normalize,
        max_seq_length=layout.max_seq_length or int(model.max_seq_length),
        do_lower_case=layout.do_lower_case,
        dimension=int(dimension()),
        pad_id=pad_id,
        pad_token=pad_token,
        libraries=library_versions(),
        recipe=EXPORT_RECIPE,
    )


def _padding(tokenizer: Any, folder: Path) -> tuple[int, str]:
    """The pad token: tokenizer.json's padding settings, else tokenizer_config.json's pad_token."""
    if tokenizer.padding:
        return int(tokenizer.padding["pad_id"]), str(tokenizer.padding["pad_token"])
    config_file = folder / "tokenizer_config.json"
    config = _read_json(config_file, "tokenizer_config") if config_file.is_file() else {}
    token = config.get("pad_token")
    token = token.get("content") if isinstance(token, dict) else token
    pad_id = tokenizer.token_to_id(token) if isinstance(token, str) else None
    if pad_id is None:
        raise ExportRefused("the tokenizer has no padding token")
    return int(pad_id), str(token)


def _features(model: Any, texts: list[str]) -> dict[str, Any]:
    """What sentence-transformers feeds its Transformer module (`preprocess` since 5.x)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return dict(prepare(texts))


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _fsync_all(folder: Path) -> None:
    """On disk before the rename that publishes it (a crash leaves no half-written export)."""
    for path in folder.iterdir():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _export_transformer(model: Any, meta: ExportMeta, tokenizer_json: bytes, path: Path) -> None:
    import torch
    from tokenizers import Tokenizer

    transformer = model[0]
    names = meta.inputs

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features = dict(zip(names, tensors, strict=True))
            return self.transformer(features)["token_embeddings"]  # type: ignore[no-any-return]

    tokenizer = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    tokenizer.enable_padding(pad_id=meta.pad_id, pad_token=meta.pad_token)
    tokenizer.enable_truncation(max_length=meta.max_seq_length)
    # A padded example, so that the traced graph keeps the attention mask.
    sample = tokenizer.encode_batch([PROBES[0], PROBES[-1]])
    columns = {
        "input_ids": [e.ids for e in sample],
        "attention_mask": [e.attention_mask for e in sample],
        "token_type_ids": [e.type_ids for e in sample],
    }
    example = tuple(torch.tensor(columns[name], dtype=torch.long) for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*names, "token_embeddings")}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter, not the user's
            torch.onnx.export(
                TokenEmbeddings().eval(),
                example,
                str(path),
                input_names=list(names),
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types for unsupported graphs
        raise ExportRefused(f"torch.onnx cannot export it: {type(exc).__name__}: {exc}") from None


def _load_graph(path: Path) -> Any:
    import onnx

    return onnx.load(str(path))


def _save_with_weights_apart(graph: Any, path: Path) -> None:
    """Save `graph` as MODEL_FILE with its weights in WEIGHTS_FILE beside it (see
    bot.embedding.onnx_encoder: onnxruntime maps that file instead of copying it)."""
    import onnx

    for stale in (path, path.parent / WEIGHTS_FILE):  # onnx appends to an existing weights file
        stale.unlink(missing_ok=True)
    onnx.save_model(
        graph,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=WEIGHTS_FILE,
        size_threshold=1024,
    )
    # onnx creates the weights file private to its owner; give it model.onnx's permissions, so
    # a bot running as another user reads the export it can read the rest of.
    (path.parent / WEIGHTS_FILE).chmod(path.stat().st_mode & 0o777)


def verify(model: Any, encoder: OnnxEncoder) -> float:
    """The worst cosine between sentence-transformers' vectors and the export's on PROBES, one
    at a time and as one padded batch; raises ExportRefused when it is further than allowed."""
    expected = np.asarray(
        model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True),
        dtype=np.float32,
    )
    alone = np.stack([encoder.encode([text])[0] for text in PROBES])
    batched = encoder.encode(list(PROBES))
    cosines = np.minimum((expected * alone).sum(axis=1), (expected * batched).sum(axis=1))
    worst = int(np.argmin(cosines))
    if not cosines[worst] >= 1 - MAX_COSINE_GAP:  # also catches NaN
        raise ExportRefused(
            f"the export does not match sentence-transformers: cosine {cosines[worst]:.6f} "
            f"on probe {PROBES[worst][:40]!r} (needs >= {1 - MAX_COSINE_GAP})"
        )
    return float(cosines[worst])


def _install(tmp: Path, final: Path) -> None:
    """Move a verified export into place (replacing a damaged one) under a lock file."""
    from filelock import FileLock

    with FileLock(str(final) + ".lock"):
        old = final.with_name(f".tmp-old-{uuid.uuid4().hex[:12]}")
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)


def library_versions() -> dict[str, str]:
    """Versions that made the export (a refusal is retried when one of them changes)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def record_refusal(root: Path, model_id: str, reason: str) -> None:
    """Remember that `model_id` cannot be exported with these libraries (no retry every run)."""
    path = export_folder(root, model_id).with_suffix(REFUSED_SUFFIX)
    data = {"model_id": model_id, "reason": reason, "libraries": library_versions()}
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(data, indent=1))
    except OSError:
        pass  # only a shortcut: without it the next writer tries again


def recorded_refusal(root: Path, model_id: str) -> str | None:
    """The reason recorded by `record_refusal`, if the model and libraries are still the same."""
    path = export_folder(root, model_id).with_suffix(REFUSED_SUFFIX)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("model_id") != model_id or data.get("libraries") != library_versions():
        return None
    return str(data.get("reason", "refused"))
