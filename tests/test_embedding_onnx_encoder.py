"""The ONNX question encoder: pooling as sentence-transformers pools, checksums, refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.embedding.onnx_encoder import (
    EXPORT_RECIPE,
    META_FILE,
    MODEL_FILE,
    POOLING_MODES,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    ExportInvalid,
    ExportMeta,
    OnnxEncoder,
    check_file,
    export_folder,
    pool,
    read_meta,
)

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2@test"


def _meta(**changes: Any) -> ExportMeta:
    base = ExportMeta(
        model_id=MODEL_ID,
        inputs=("input_ids", "attention_mask"),
        pooling=("mean",),
        normalize=True,
        max_seq_length=256,
        do_lower_case=False,
        dimension=4,
        pad_id=0,
        pad_token="[PAD]",
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    "modes",
    [
        ("cls",),
        ("max",),
        ("mean",),
        ("mean_sqrt_len_tokens",),
        ("weightedmean",),
        ("lasttoken",),
        ("cls", "max", "mean"),
    ],
)
@pytest.mark.model  # imports torch and sentence-transformers (seconds), not the weights
def test_pooling_matches_sentence_transformers(modes: tuple[str, ...]) -> None:
    """Every mode, on a right-padded batch, against sentence-transformers' own Pooling module."""
    import torch

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:  # sentence-transformers before 5.x; the path above is the new home
        from sentence_transformers.models import Pooling  # type: ignore[no-redef]

    rng = np.random.default_rng(7)
    tokens = rng.standard_normal((3, 6, 8)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    module = Pooling(8, pooling_mode=modes[0] if len(modes) == 1 else modes)
    features = {
        "token_embeddings": torch.from_numpy(tokens),
        "attention_mask": torch.from_numpy(mask),
    }
    expected = module(features)["sentence_embedding"].numpy()
    ordered = tuple(mode for mode in POOLING_MODES if mode in modes)
    got = pool(tokens, mask, _meta(pooling=ordered, dimension=8 * len(modes)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_meta_round_trips_and_refuses_what_it_does_not_know() -> None:
    meta = _meta(checksums={MODEL_FILE: "ab"}, libraries={"torch": "2"})
    assert ExportMeta.from_json(meta.to_json()) == meta
    data = json.loads(meta.to_json())
    with pytest.raises(ExportInvalid, match="format"):
        ExportMeta.from_json(json.dumps({**data, "format": 99}).encode())
    with pytest.raises(ExportInvalid, match="pooling"):
        ExportMeta.from_json(json.dumps({**data, "pooling": ["attention"]}).encode())
    with pytest.raises(ExportInvalid, match="unreadable"):
        ExportMeta.from_json(b"{not json")
    with pytest.raises(ExportInvalid, match="unreadable"):
        ExportMeta.from_json(json.dumps({"format": 1}).encode())


def test_an_export_json_from_before_recipes_still_reads() -> None:
    """export.json written before the recipe was recorded: recipe 1, its graph as traced."""
    data = json.loads(_meta(checksums={MODEL_FILE: "ab"}).to_json())
    for key in ("recipe", "graph", "graph_note"):
        del data[key]
    meta = ExportMeta.from_json(json.dumps(data).encode())
    assert (meta.recipe, meta.graph, meta.graph_note) == (1, "plain", "")
    assert meta.recipe < EXPORT_RECIPE and meta.checksums == {MODEL_FILE: "ab"}


def test_a_file_that_does_not_match_its_checksum_is_refused(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_bytes(b"weights")
    meta = _meta(checksums={MODEL_FILE: hashlib.sha256(b"weights").hexdigest()})
    check_file(tmp_path, MODEL_FILE, meta)
    (tmp_path / MODEL_FILE).write_bytes(b"weightz")
    with pytest.raises(ExportInvalid, match="does not match its checksum"):
        check_file(tmp_path, MODEL_FILE, meta)
    with pytest.raises(ExportInvalid, match="does not match its checksum"):
        check_file(tmp_path, MODEL_FILE, _meta())  # no checksum recorded: never trusted
    with pytest.raises(ExportInvalid, match="cannot read"):
        check_file(tmp_path, TOKENIZER_FILE, meta)


def test_no_export_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(ExportInvalid, match="no export"):
        read_meta(tmp_path / "missing")


def test_export_folders_are_per_model(tmp_path: Path) -> None:
    assert export_folder(tmp_path, "a") != export_folder(tmp_path, "b")
    assert export_folder(tmp_path, "a") == export_folder(tmp_path, "a")


@pytest.mark.model
def test_loaded_export_checks_model_and_files(onnx_export: Path, tmp_path: Path) -> None:
    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import resolve_model

    model_id = resolve_model(BUNDLED_MODEL).model_id
    folder = tmp_path / "export"
    shutil.copytree(export_folder(onnx_export, model_id), folder)
    encoder = OnnxEncoder.load(folder, model_id, threads=1)
    vectors = encoder.encode(["one question", "and a second, longer question"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(ExportInvalid, match="not another-model"):
        OnnxEncoder.load(folder, "another-model")
    meta = json.loads((folder / META_FILE).read_text())
    meta["inputs"] = ["input_ids"]
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ExportInvalid, match=r"export\.json says"):
        OnnxEncoder.load(folder, model_id)


@pytest.mark.model
def test_an_export_with_its_weights_inside_the_graph_still_loads(
    onnx_export: Path, tmp_path: Path
) -> None:
    """Exports made before the weights got a file of their own stay valid (no rebuild, no
    torch fallback) and give the same vectors."""
    import onnx

    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import resolve_model

    model_id = resolve_model(BUNDLED_MODEL).model_id
    source = export_folder(onnx_export, model_id)
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(source / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    onnx.save_model(onnx.load(str(source / MODEL_FILE)), str(folder / MODEL_FILE))
    meta = json.loads((source / META_FILE).read_text())
    meta["checksums"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in (MODEL_FILE, TOKENIZER_FILE)
    }
    (folder / META_FILE).write_text(json.dumps(meta))
    assert not (folder / WEIGHTS_FILE).exists()
    texts = ["Who appointed them?", "What is the third measure?"]
    old = OnnxEncoder.load(folder, model_id, threads=1).encode(texts)
    new = OnnxEncoder.load(source, model_id, threads=1).encode(texts)
    np.testing.assert_allclose(old, new, atol=1e-6)
