"""Runtime selection and fallback for questions; same answers; no torch on the question path."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.embedding.model import ModelSpec, SentenceTransformerEmbedder
from bot.embedding.onnx_encoder import (
    EXPORT_RECIPE,
    META_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    OnnxEncoder,
    export_folder,
)
from bot.embedding.onnx_export import ExportRefused
from bot.embedding.questions import QuestionEmbedder, RuntimeEmbedder, make_embedder
from bot.errors import ConfigError
from bot.service import QuoteService

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers")
QUESTIONS = (
    "How many grassroots party organizations are there in Jingzhou?",
    "What is the third measure?",
    "What should grassroots-level Party organizations improve?",
    "What is the foundation of the Party?",
    "Who wrote the article?",
    "When was it published?",
    "How do Party members help ordinary citizens with difficulties?",
    "What activities should be conducted?",
    "What is the role of leading cadres?",
    "service ordinary citizens",
    "Who painted the Mona Lisa?",
    "What is the boiling point of water?",
    "How many goals did the football team score last season?",
)


class CopyExporter:
    """Installs the session's verified export instead of making a new one (seconds each); the
    real exporter is tested in test_embedding_onnx_export.py."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.calls = 0

    def __call__(self, model: Any, spec: ModelSpec, root: Path) -> None:
        self.calls += 1
        destination = export_folder(root, spec.model_id)
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(export_folder(self.source, spec.model_id), destination)


class RefusingExporter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model: Any, spec: ModelSpec, root: Path) -> None:
        self.calls += 1
        raise ExportRefused("the model's modules (Dense) are not Transformer -> Pooling")


def _runtime(real_embedder: Any, root: Path, exporter: Any) -> tuple[RuntimeEmbedder, list[str]]:
    notices: list[str] = []
    embedder = RuntimeEmbedder(
        real_embedder, root, threads=1, on_notice=notices.append, exporter=exporter
    )
    return embedder, notices


def _install(onnx_export: Path, root: Path, model_id: str) -> Path:
    destination = export_folder(root, model_id)
    shutil.copytree(export_folder(onnx_export, model_id), destination)
    return destination


def test_runtime_setting_selects_the_question_encoder(
    knowledge: Path, make_settings: Callable[..., Settings]
) -> None:
    """Nothing is loaded to decide: torch -> sentence-transformers alone; onnx (the default)
    -> questions through the export kept in <index dir>/onnx."""
    settings = make_settings(knowledge)
    assert settings.embedding.runtime == "onnx"
    onnx = make_embedder(settings, lambda message: None)
    assert isinstance(onnx, RuntimeEmbedder) and isinstance(onnx, QuestionEmbedder)
    assert onnx.export_dir.parent == settings.index_dir / "onnx"
    assert onnx.runtime is None  # not decided until the first question
    torch = make_embedder(make_settings(knowledge, embedding={"runtime": "torch"}), print)
    assert isinstance(torch, SentenceTransformerEmbedder)
    assert not isinstance(torch, QuestionEmbedder)
    with pytest.raises(ConfigError, match=r"embedding\.runtime"):
        make_settings(knowledge, embedding={"runtime": "tensorflow"})


@pytest.mark.model
def test_a_sound_export_is_used_as_it_is(
    real_embedder: Any, onnx_export: Path, tmp_path: Path
) -> None:
    root = tmp_path / "onnx"
    _install(onnx_export, root, real_embedder.spec.model_id)
    exporter = CopyExporter(onnx_export)
    embedder, notices = _runtime(real_embedder, root, exporter)
    embedder.prepare_questions(writer=True)
    assert embedder.runtime == "onnx" and exporter.calls == 0 and notices == []
    question = "How many grassroots party organizations are there?"
    vector = embedder.encode_question(question)
    assert vector.shape == (384,) and vector.dtype == np.float32
    assert float(vector @ real_embedder.encode([question])[0]) >= 1 - 1e-4


@pytest.mark.model
def test_a_writer_makes_a_missing_export_once(
    real_embedder: Any, onnx_export: Path, tmp_path: Path
) -> None:
    exporter = CopyExporter(onnx_export)
    embedder, notices = _runtime(real_embedder, tmp_path / "onnx", exporter)
    embedder.prepare_questions(writer=True)
    embedder.prepare_questions(writer=True)
    embedder.encode_question("anything")
    assert embedder.runtime == "onnx" and exporter.calls == 1
    assert notices == ["making the ONNX question encoder (once) ..."]


def _damage(folder: Path, what: str) -> None:
    if what == "model bytes":
        data = bytearray((folder / MODEL_FILE).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / MODEL_FILE).write_bytes(bytes(data))
    elif what == "weights bytes":
        with (folder / WEIGHTS_FILE).open("r+b") as file:
            file.seek(file.seek(0, 2) // 2)
            byte = file.read(1)
            file.seek(-1, 1)
            file.write(bytes([byte[0] ^ 0xFF]))
    elif what == "missing weights":
        (folder / WEIGHTS_FILE).unlink()
    elif what == "truncated model":
        with (folder / MODEL_FILE).open("r+b") as file:
            file.truncate(1000)
    elif what == "tokenizer":
        text = (folder / TOKENIZER_FILE).read_text(encoding="utf-8")
        (folder / TOKENIZER_FILE).write_text(text.replace('"[UNK]"', '"[UNKNOWN]"'))
    elif what == "another model's export":
        meta = json.loads((folder / META_FILE).read_text())
        meta["model_id"] = "sentence-transformers/all-mpnet-base-v2"
        (folder / META_FILE).write_text(json.dumps(meta))
    elif what == "unreadable export.json":
        (folder / META_FILE).write_text("{")


def _weights_inside_the_graph(folder: Path) -> None:
    """Turn an export into one made before model.onnx.data existed (weights in model.onnx)."""
    import onnx

    onnx.save_model(onnx.load(str(folder / MODEL_FILE)), str(folder / MODEL_FILE))
    (folder / WEIGHTS_FILE).unlink()
    meta = json.loads((folder / META_FILE).read_text())
    meta["checksums"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in (MODEL_FILE, TOKENIZER_FILE)
    }
    for key in ("recipe", "graph", "graph_note"):
        del meta[key]
    (folder / META_FILE).write_text(json.dumps(meta))


def _older_recipe(folder: Path) -> None:
    """Turn an export's export.json into one written before recipes were recorded (its files
    are sound: only a remake by a writer that has torch loaded would make it faster)."""
    meta = json.loads((folder / META_FILE).read_text())
    for key in ("recipe", "graph", "graph_note"):
        del meta[key]
    (folder / META_FILE).write_text(json.dumps(meta))


OLD_EXPORTS = {
    "weights inside the graph": (
        _weights_inside_the_graph,
        "the ONNX export keeps its weights inside the graph",
    ),
    "older recipe": (_older_recipe, "the ONNX export was made by an older recipe (1 < 2)"),
}


@pytest.mark.model
@pytest.mark.parametrize("old", OLD_EXPORTS)
def test_a_writer_remakes_an_export_of_an_older_recipe(
    real_embedder: Any, onnx_export: Path, tmp_path: Path, old: str
) -> None:
    """Exports made by an older recipe (before model.onnx.data existed, before the graph was
    fused) still answer a reader (no notice, no torch), and the next writer remakes them so
    readers map the weights and run the fused graph."""
    make_old, problem = OLD_EXPORTS[old]
    root = tmp_path / "onnx"
    folder = _install(onnx_export, root, real_embedder.spec.model_id)
    make_old(folder)
    exporter = CopyExporter(onnx_export)
    reader, notices = _runtime(real_embedder, root, exporter)
    reader.prepare_questions(writer=False)
    assert reader.runtime == "onnx" and exporter.calls == 0 and notices == []
    assert reader._onnx is not None and reader._onnx.meta.recipe == 1
    writer, notices = _runtime(real_embedder, root, exporter)
    writer.prepare_questions(writer=True)
    assert writer.runtime == "onnx" and exporter.calls == 1
    assert notices == [f"{problem}: rebuilding the ONNX question encoder ..."]
    assert (folder / WEIGHTS_FILE).is_file()
    assert writer._onnx is not None and writer._onnx.meta.recipe == EXPORT_RECIPE
    again, notices = _runtime(real_embedder, root, exporter)
    again.prepare_questions(writer=True)
    assert again.runtime == "onnx" and exporter.calls == 1 and notices == []  # remade once


@pytest.mark.model
@pytest.mark.parametrize("old", OLD_EXPORTS)
def test_an_old_export_is_not_remade_by_a_writer_without_torch(
    real_embedder: Any, onnx_export: Path, tmp_path: Path, old: str
) -> None:
    """A writer that embedded nothing (a cold ask, the bot's start) does not load torch to
    remake an old export: it answers with it."""
    root = tmp_path / "onnx"
    folder = _install(onnx_export, root, real_embedder.spec.model_id)
    OLD_EXPORTS[old][0](folder)
    exporter = CopyExporter(onnx_export)
    model = SentenceTransformerEmbedder(real_embedder.spec, threads=1)
    embedder = RuntimeEmbedder(model, root, threads=1, on_notice=print, exporter=exporter)
    embedder.prepare_questions(writer=True)
    assert embedder.runtime == "onnx" and exporter.calls == 0 and not model.loaded


@pytest.mark.model
@pytest.mark.parametrize("old", OLD_EXPORTS)
def test_a_writer_that_cannot_remake_an_old_export_keeps_using_it(
    real_embedder: Any, onnx_export: Path, tmp_path: Path, old: str
) -> None:
    root = tmp_path / "onnx"
    folder = _install(onnx_export, root, real_embedder.spec.model_id)
    OLD_EXPORTS[old][0](folder)
    before = (folder / META_FILE).read_bytes()
    exporter = RefusingExporter()
    writer, _ = _runtime(real_embedder, root, exporter)
    writer.prepare_questions(writer=True)
    assert writer.runtime == "onnx" and exporter.calls == 1
    assert (folder / META_FILE).read_bytes() == before


DAMAGE = (
    "model bytes",
    "weights bytes",
    "missing weights",
    "truncated model",
    "tokenizer",
    "another model's export",
    "unreadable export.json",
)


@pytest.mark.model
@pytest.mark.parametrize("what", DAMAGE)
def test_a_damaged_or_mismatched_export_is_rebuilt_by_a_writer(
    real_embedder: Any, onnx_export: Path, tmp_path: Path, what: str
) -> None:
    root = tmp_path / "onnx"
    folder = _install(onnx_export, root, real_embedder.spec.model_id)
    _damage(folder, what)
    exporter = CopyExporter(onnx_export)
    embedder, notices = _runtime(real_embedder, root, exporter)
    embedder.prepare_questions(writer=True)
    assert exporter.calls == 1 and embedder.runtime == "onnx"
    assert len(notices) == 1 and notices[0].endswith(": rebuilding the ONNX question encoder ...")
    OnnxEncoder.load(folder, real_embedder.spec.model_id)  # sound again


@pytest.mark.model
@pytest.mark.parametrize("what", DAMAGE)
def test_a_damaged_or_mismatched_export_is_refused_by_a_reader(
    real_embedder: Any, onnx_export: Path, tmp_path: Path, what: str
) -> None:
    """A reader never writes the export and never runs a damaged one: torch answers, and the
    user reads one notice."""
    root = tmp_path / "onnx"
    folder = _install(onnx_export, root, real_embedder.spec.model_id)
    _damage(folder, what)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    exporter = CopyExporter(onnx_export)
    embedder, notices = _runtime(real_embedder, root, exporter)
    question = "What is the third measure?"
    vector = embedder.encode_question(question)
    embedder.encode_question(question)
    assert embedder.runtime == "torch" and exporter.calls == 0
    np.testing.assert_array_equal(vector, real_embedder.encode([question])[0])
    assert len(notices) == 1 and notices[0].startswith("questions use the torch runtime: ")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.model
def test_a_model_that_cannot_be_exported_falls_back_to_torch_once(
    real_embedder: Any, tmp_path: Path
) -> None:
    """The refusal is said once, remembered (later writers do not retry every run), and the
    torch runtime answers."""
    root = tmp_path / "onnx"
    exporter = RefusingExporter()
    embedder, notices = _runtime(real_embedder, root, exporter)
    vector = embedder.encode_question("Who appointed them?")
    np.testing.assert_array_equal(vector, real_embedder.encode(["Who appointed them?"])[0])
    embedder.prepare_questions(writer=True)
    assert embedder.runtime == "torch"  # a reader's first question settled it
    assert notices == [
        f"questions use the torch runtime: no export at {embedder.export_dir} "
        "(the index writer, `quotebot index`, makes the ONNX export)"
    ]
    fresh, fresh_notices = _runtime(real_embedder, root, exporter)
    fresh.prepare_questions(writer=True)
    assert fresh.runtime == "torch" and exporter.calls == 1
    assert fresh_notices[-1].startswith("cannot export the model for onnxruntime (the model's")
    again, again_notices = _runtime(real_embedder, root, exporter)
    again.prepare_questions(writer=True)
    assert exporter.calls == 1  # remembered
    assert again_notices == [
        "questions use the torch runtime: cannot export the model (the model's modules (Dense) "
        "are not Transformer -> Pooling)"
    ]


def _answers(service: QuoteService) -> list[dict[str, Any]]:
    results = []
    for question in QUESTIONS:
        answer = service.ask(question)
        quotes = [(q.source, q.start, q.end, q.highlight) for q in answer.quotes]
        scores = [q.score for q in answer.quotes]
        ranked = [(q.source, q.start, q.end) for q in service.ranked_quotes(question, 10)]
        results.append(
            {"declined": answer.declined, "quotes": quotes, "scores": scores, "ranked": ranked}
        )
    return results


@pytest.mark.model
def test_same_answers_from_both_runtimes(
    knowledge: Path,
    make_settings: Callable[..., Settings],
    real_embedder: Any,
    onnx_export: Path,
) -> None:
    """Same quotes in the same order, same declines, scores equal to 3 decimals."""
    settings = make_settings(knowledge)
    by_torch = compose_service(settings, embedder=real_embedder, on_notice=lambda m: None)
    by_torch.refresh()
    embedder, notices = _runtime(real_embedder, settings.index_dir / "onnx", None)
    _install(onnx_export, settings.index_dir / "onnx", real_embedder.spec.model_id)
    by_onnx = compose_service(settings, embedder=embedder, on_notice=lambda m: None)
    by_onnx.refresh()
    torch_answers, onnx_answers = _answers(by_torch), _answers(by_onnx)
    assert embedder.runtime == "onnx" and notices == []
    for question, expected, got in zip(QUESTIONS, torch_answers, onnx_answers, strict=True):
        assert got["declined"] == expected["declined"], question
        assert got["quotes"] == expected["quotes"], question
        assert got["ranked"] == expected["ranked"], question
        np.testing.assert_allclose(got["scores"], expected["scores"], atol=1e-3)
    assert sum(not a["declined"] for a in onnx_answers) >= 9  # the comparison compares answers


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


# Runs one command line in a fresh interpreter, then reports which heavy packages it imported.
CHILD = """
import json, sys
from bot.cli import main
argv = json.loads(sys.argv[1])
if argv == ["discord-start"]:  # what `quotebot discord` does before it connects (setup_hook)
    from bot import cli
    args = cli.build_parser().parse_args(json.loads(sys.argv[2]) + ["discord"])
    service = cli.make_service(cli._settings(args))
    import bot.discord.client
    service.refresh()
    service.question_vector("warm-up")
    code = 0
else:
    code = main(argv)
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[-1])))
print("HEAVY=" + json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


@pytest.mark.model
def test_questions_never_import_torch_with_an_up_to_date_index(
    knowledge: Path,
    make_settings: Callable[..., Settings],
    real_embedder: Any,
    onnx_export: Path,
    tmp_path: Path,
) -> None:
    """ask, repl, eval, sources and the Discord bot's start, each in a fresh interpreter over
    an up-to-date index with its export: torch, transformers and sentence-transformers are
    never imported (and are, as a control, when the torch runtime is asked for)."""
    settings = make_settings(knowledge)
    embedder, _ = _runtime(real_embedder, settings.index_dir / "onnx", CopyExporter(onnx_export))
    service = compose_service(settings, embedder=embedder, on_notice=lambda m: None)
    service.refresh()
    service.prepare_questions()
    assert embedder.runtime == "onnx"
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"question": QUESTIONS[0], "answers": ["grassroots"]})
        + "\n"
        + json.dumps({"question": QUESTIONS[-1], "answers": []})
        + "\n"
    )
    common = ["--knowledge", str(knowledge), "--index-dir", str(settings.index_dir)]
    commands: dict[str, tuple[list[str], str]] = {
        "ask": ([*common, "ask", QUESTIONS[1], "--json"], ""),
        "ask -": ([*common, "ask", "-", "--json", "--follow-ups"], f"{QUESTIONS[2]}\nWhy?\n"),
        "repl": ([*common, "repl"], f"{QUESTIONS[3]}\n:sources\n"),
        "eval": ([*common, "eval", str(questions), "--json"], ""),
        "sources": ([*common, "sources", "--json"], ""),
        "discord": (["discord-start"], ""),
    }
    for name, (argv, stdin) in commands.items():
        extra = [json.dumps(common)] if argv == ["discord-start"] else []
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(argv), *extra, json.dumps(HEAVY)],
            input=stdin,
            capture_output=True,
            text=True,
            env=_child_env(),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        report = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")]
        assert report, f"{name}: {done.stderr[-2000:]}"
        result = json.loads(report[-1].removeprefix("HEAVY="))
        assert result == {"code": 0, "loaded": []}, f"{name}: {done.stderr[-2000:]}"
        notices = [line for line in done.stderr.splitlines() if line.startswith("quotebot:")]
        assert notices == [], name  # no fallback, no export made
    control = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            json.dumps([*common, "ask", QUESTIONS[1]]),
            json.dumps(HEAVY),
        ],
        capture_output=True,
        text=True,
        env=_child_env() | {"QUOTEBOT_EMBEDDING__RUNTIME": "torch"},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    report = [line for line in control.stderr.splitlines() if line.startswith("HEAVY=")]
    assert json.loads(report[-1].removeprefix("HEAVY="))["loaded"] == sorted(HEAVY), control.stderr


@pytest.mark.model
def test_the_question_encoder_id_names_the_exact_export(
    real_embedder: Any, onnx_export: Path, tmp_path: Path
) -> None:
    """What the answer judge's vector table is keyed by: "" until decided, "torch" without an
    export, "onnx-" + a digest of the checksums of the export's files."""
    torch_only = RuntimeEmbedder(real_embedder, tmp_path / "none", threads=1, on_notice=print)
    assert torch_only.question_encoder_id == ""
    torch_only.prepare_questions(writer=False)
    assert torch_only.question_encoder_id == "torch"
    model_id = real_embedder.spec.model_id
    _install(onnx_export, tmp_path / "a", model_id)
    onnx = RuntimeEmbedder(real_embedder, tmp_path / "a", threads=1, on_notice=print)
    onnx.prepare_questions(writer=False)
    assert onnx.question_encoder_id.startswith("onnx-")
    copy = _install(onnx_export, tmp_path / "b", model_id)
    same = RuntimeEmbedder(real_embedder, tmp_path / "b", threads=1, on_notice=print)
    same.prepare_questions(writer=False)
    assert same.question_encoder_id == onnx.question_encoder_id  # the same files, anywhere
    checksums = json.loads((copy / META_FILE).read_text())["checksums"]
    digest = hashlib.sha256(repr(sorted(checksums.items())).encode()).hexdigest()[:16]
    assert onnx.question_encoder_id == f"onnx-{digest}"  # and only they: any file's checksum
