"""Making the ONNX export: the model's own modules read, every probe verified, refusals clear."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import BUNDLED_MODEL
from bot.embedding.model import ModelSpec, resolve_model
from bot.embedding.onnx_encoder import (
    EXPORT_RECIPE,
    META_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    OnnxEncoder,
    export_folder,
)
from bot.embedding.onnx_export import (
    MAX_COSINE_GAP,
    PROBES,
    ExportRefused,
    fuse_graph,
    make_export,
    read_layout,
    record_refusal,
    recorded_refusal,
    verify,
)


def _model_folder(tmp_path: Path, modules: list[dict[str, str]], pooling: dict[str, Any]) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    return folder


TRANSFORMER = {"path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def test_layout_of_the_bundled_model() -> None:
    layout = read_layout(Path(resolve_model(BUNDLED_MODEL).load_path))
    assert layout.pooling == ("mean",)
    assert layout.normalize is True
    assert layout.max_seq_length == 256
    assert layout.do_lower_case is False


@pytest.mark.parametrize(
    ("pooling", "expected"),
    [
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, ("cls",)),
        ({"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}, ("max", "mean")),
        ({"pooling_mode": "lasttoken"}, ("lasttoken",)),
        ({"pooling_mode": ["mean", "cls"]}, ("cls", "mean")),  # sentence-transformers' order
        ({}, ("mean",)),
    ],
)
def test_both_spellings_of_the_pooling_config(
    tmp_path: Path, pooling: dict[str, Any], expected: tuple[str, ...]
) -> None:
    layout = read_layout(_model_folder(tmp_path, [TRANSFORMER, POOLING], pooling))
    assert layout.pooling == expected
    assert layout.normalize is False and layout.max_seq_length == 128


@pytest.mark.parametrize(
    ("modules", "pooling", "message"),
    [
        (
            [
                TRANSFORMER,
                POOLING,
                {"path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            ],
            {},
            "sentence_transformers.models.Dense",
        ),
        ([POOLING, TRANSFORMER], {}, "Pooling -> Transformer"),
        ([TRANSFORMER, POOLING, NORMALIZE, NORMALIZE], {}, "Normalize -> Normalize"),
        ([TRANSFORMER, POOLING], {"pooling_mode": "attention"}, "unsupported pooling mode"),
        ([TRANSFORMER, POOLING], {"include_prompt": False}, "include_prompt"),
        ([], {}, "lists no modules"),
    ],
)
def test_models_that_cannot_be_exported_are_refused_by_name(
    tmp_path: Path, modules: list[dict[str, str]], pooling: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExportRefused, match=message):
        read_layout(_model_folder(tmp_path, modules, pooling))


def test_a_folder_without_modules_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportRefused, match=r"no modules\.json"):
        read_layout(tmp_path)


def test_refusals_are_remembered_per_model(tmp_path: Path) -> None:
    assert recorded_refusal(tmp_path, "m") is None
    record_refusal(tmp_path, "m", "it has a Dense module")
    assert recorded_refusal(tmp_path, "m") == "it has a Dense module"
    assert recorded_refusal(tmp_path, "other") is None


@pytest.mark.model
def test_the_export_is_verified_and_complete(onnx_export: Path, real_embedder: Any) -> None:
    """The session's export: every probe within 1e-4 cosine, checksums recorded; and the same
    vectors as sentence-transformers on texts that are not probes, one at a time."""
    folder = export_folder(onnx_export, real_embedder.spec.model_id)
    names = [META_FILE, MODEL_FILE, WEIGHTS_FILE, TOKENIZER_FILE]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["probes"] == len(PROBES)
    # MiniLM is BERT: traced with eager attention, every layer's attention fused
    assert (meta["recipe"], meta["graph"]) == (EXPORT_RECIPE, "fused")
    assert "Attention 6" in meta["graph_note"] and "EmbedLayerNormalization 1" in meta["graph_note"]
    assert real_embedder.load()[0].auto_model.config._attn_implementation == "sdpa"  # restored
    assert meta["probe_min_cosine"] >= 1 - MAX_COSINE_GAP
    assert set(meta["checksums"]) == {MODEL_FILE, WEIGHTS_FILE, TOKENIZER_FILE}
    # the weights are outside the graph (onnxruntime maps them: docs/bench.md, 2026-12-03)
    assert (folder / MODEL_FILE).stat().st_size < 1_000_000 < (folder / WEIGHTS_FILE).stat().st_size
    assert [p.name for p in onnx_export.iterdir() if p.name.startswith(".tmp")] == []
    encoder = OnnxEncoder.load(folder, real_embedder.spec.model_id, threads=1)
    texts = ["Who leads the party committee?", "What changed in 2010?", "x" * 3000]
    expected = real_embedder.encode(texts)
    got = np.stack([encoder.encode([text])[0] for text in texts])
    assert (got * expected).sum(axis=1).min() >= 1 - MAX_COSINE_GAP


@pytest.mark.model
def test_an_export_that_does_not_match_is_refused(onnx_export: Path, real_embedder: Any) -> None:
    """Verification is real: the right graph pooled the wrong way fails the probes."""
    folder = export_folder(onnx_export, real_embedder.spec.model_id)
    good = OnnxEncoder.load(folder, real_embedder.spec.model_id)
    wrong = OnnxEncoder.open(
        folder / MODEL_FILE,
        folder / TOKENIZER_FILE,
        dataclasses.replace(good.meta, pooling=("cls",)),
    )
    with pytest.raises(ExportRefused, match="does not match sentence-transformers: cosine"):
        verify(real_embedder.load(), wrong)
    assert verify(real_embedder.load(), good) >= 1 - MAX_COSINE_GAP


@pytest.mark.model
def test_a_model_with_a_dense_layer_is_refused_and_still_embeds(
    real_embedder: Any, tmp_path: Path
) -> None:
    """A real model folder sentence-transformers loads but the exporter does not support: a
    clear refusal, nothing left behind, and the model itself still works (the torch runtime)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense

    from bot.embedding.model import SentenceTransformerEmbedder

    base = real_embedder.load()
    dense_path = tmp_path / "dense-model"
    SentenceTransformer(modules=[base[0], base[1], Dense(384, 32)]).save(str(dense_path))
    spec = ModelSpec(f"path:{dense_path}", str(dense_path))
    model = SentenceTransformerEmbedder(spec)
    root = tmp_path / "onnx"
    with pytest.raises(ExportRefused, match=r"Dense\) are not Transformer -> Pooling"):
        make_export(model.load(), spec, root)
    assert not root.exists() or list(root.iterdir()) == []
    assert model.encode(["still works"]).shape == (1, 32)


def test_a_model_that_is_not_on_this_machine_is_refused(tmp_path: Path) -> None:
    spec = ModelSpec("nobody/no-such-model", "nobody/no-such-model")
    with pytest.raises(ExportRefused, match="no local copy"):
        make_export(object(), spec, tmp_path)


# Small models of other types, random weights, the bundled model's tokenizer: the whole export
# (trace, optimizer, verification) in about a second each, without the real model.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoConfig, AutoModel

    from bot.embedding.model import SentenceTransformerEmbedder

    bundled = Path(resolve_model(BUNDLED_MODEL).load_path)
    made: dict[str, Any] = {}

    def tiny(model_type: str) -> Any:
        if model_type not in made:
            base = tmp_path_factory.mktemp(f"tiny-{model_type}")
            config = AutoConfig.for_model(
                model_type,
                vocab_size=30522,
                hidden_size=32,
                embedding_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=64,
                max_position_embeddings=512,
            )
            AutoModel.from_config(config).save_pretrained(base / "hf")
            for name in TOKENIZER_FILES:
                shutil.copy(bundled / name, base / "hf" / name)
            transformer = Transformer(str(base / "hf"), max_seq_length=128)
            modules = [transformer, Pooling(32, "mean"), Normalize()]
            SentenceTransformer(modules=modules).save(str(base / "st"))
            spec = ModelSpec(f"path:{base / 'st'}", str(base / "st"))
            made[model_type] = SentenceTransformerEmbedder(spec)
        return made[model_type]

    return tiny


def _export_graph(tiny_model: Any, root: Path, **kwargs: Any) -> dict[str, Any]:
    make_export(tiny_model.load(), tiny_model.spec, root, **kwargs)
    folder = export_folder(root, tiny_model.spec.model_id)
    encoder = OnnxEncoder.load(folder, tiny_model.spec.model_id, threads=1)  # checksums hold
    texts = ["a question", "another, longer question about something"]
    assert (encoder.encode(texts) * tiny_model.encode(texts)).sum(axis=1).min() >= 0.9999
    assert (folder / WEIGHTS_FILE).stat().st_size > (folder / MODEL_FILE).stat().st_size
    assert [p.name for p in root.iterdir() if p.name.startswith(".tmp")] == []  # none left
    return json.loads((folder / META_FILE).read_text())  # type: ignore[no-any-return]


@pytest.mark.model
def test_a_bert_model_gets_the_fused_graph(tiny_models: Any, tmp_path: Path) -> None:
    meta = _export_graph(tiny_models("bert"), tmp_path)
    assert (meta["recipe"], meta["graph"]) == (EXPORT_RECIPE, "fused")
    assert "Attention 2" in meta["graph_note"]
    assert meta["probe_min_cosine"] >= 1 - MAX_COSINE_GAP


@pytest.mark.model
def test_a_model_type_the_optimizer_does_not_fuse_gets_the_plain_graph(
    tiny_models: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.embedding.onnx_export"):
        meta = _export_graph(tiny_models("albert"), tmp_path)
    assert (meta["recipe"], meta["graph"]) == (EXPORT_RECIPE, "plain")
    assert "model type 'albert'" in meta["graph_note"]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.embedding.onnx_export"] == [
        f"ONNX export: the plain graph is kept ({meta['graph_note']})"
    ]


def _failing_optimizer(traced: Path, config: Any) -> tuple[Any, str]:
    raise RuntimeError("the optimizer crashed")


def _wrong_fusion(traced: Path, config: Any) -> tuple[Any, str]:
    """The real fused graph with one attention layer's weights changed: it loads and runs, and
    only the probes can tell."""
    from onnx import numpy_helper

    graph, note = fuse_graph(traced, config)
    attention = next(node for node in graph.graph.node if node.op_type == "Attention")
    weights = next(t for t in graph.graph.initializer if t.name == attention.input[1])
    changed = numpy_helper.to_array(weights) * -1.0
    weights.CopyFrom(numpy_helper.from_array(changed, weights.name))
    return graph, note


@pytest.mark.model
@pytest.mark.parametrize(
    ("fuse", "reason"),
    [(_failing_optimizer, "RuntimeError: the optimizer crashed"), (_wrong_fusion, "cosine")],
)
def test_a_failed_optimisation_falls_back_to_the_plain_graph(
    tiny_models: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, fuse: Any, reason: str
) -> None:
    """Whatever goes wrong after the trace (an optimizer error, a fused graph whose vectors are
    off): the plain graph, verified, with one log line; never a broken export or a refusal."""
    with caplog.at_level(logging.INFO, logger="bot.embedding.onnx_export"):
        meta = _export_graph(tiny_models("bert"), tmp_path, fuse=fuse)
    assert meta["graph"] == "plain" and reason in meta["graph_note"]
    assert meta["probe_min_cosine"] >= 1 - MAX_COSINE_GAP
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.embedding.onnx_export"]
    assert len(lines) == 1 and reason in lines[0]
