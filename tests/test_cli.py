"""The command line through a real subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def quotebot(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    environment.update({"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


@pytest.mark.subprocess
def test_help_is_instant_and_imports_nothing_heavy(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = quotebot("--help", cwd=tmp_path)
    assert result.returncode == 0 and "ask" in result.stdout
    assert time.perf_counter() - started < 5
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.cli; bot.cli.build_parser();"
            "print(sorted(m for m in ('torch','numpy','sentence_transformers','discord')"
            " if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert probe.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--knowledge", "missing", "index"), "knowledge folder not found"),
        (("--knowledge", "empty", "index"), "no readable"),
        (("--config", "bad.toml", "index"), "retrieval.topk"),
        (("--config", "nope.toml", "index"), "config file not found"),
        (("ask", "\u200b"), "empty"),
    ],
)
@pytest.mark.subprocess
def test_errors_are_one_line_and_exit_non_zero(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.toml").write_text("[retrieval]\ntopk = 1\n")
    result = quotebot(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.subprocess
def test_unreadable_index_is_rebuilt_with_one_line(tmp_path: Path, knowledge: Path) -> None:
    index_dir = tmp_path / "idx"
    base = ("--knowledge", str(knowledge), "--index-dir", str(index_dir))
    assert quotebot(*base, "index", cwd=tmp_path).returncode == 0
    (index_dir / "CURRENT").write_text("gen-00000042")
    result = quotebot(*base, "index", "--json", cwd=tmp_path)
    assert result.returncode == 0 and "is missing: re-embedding everything" in result.stderr
    assert json.loads(result.stdout)["chunks_embedded"] > 0


@pytest.mark.model
def test_index_then_ask_json_contract(tmp_path: Path, knowledge: Path) -> None:
    base = ("--knowledge", str(knowledge), "--index-dir", str(tmp_path / "idx"))
    first = json.loads(quotebot(*base, "index", "--json", cwd=tmp_path).stdout)
    assert first["added"] == [next(knowledge.iterdir()).name] and first["chunks_embedded"] > 0
    second = json.loads(quotebot(*base, "index", "--json", cwd=tmp_path).stdout)
    assert second["chunks_embedded"] == 0 and second["unchanged"] == first["added"]
    assert set(second) == {
        "added",
        "changed",
        "removed",
        "unchanged",
        "chunks_embedded",
        "chunks_total",
    }

    result = quotebot(
        *base,
        "ask",
        "-",
        "--json",
        cwd=tmp_path,
        stdin="What kind of economy should be developed?\n\nWho won the 1998 World Cup?\n",
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and len(lines) == 2
    answered, declined = lines
    text = next(knowledge.iterdir()).read_text(encoding="utf-8")
    assert not answered["declined"] and 1 <= len(answered["quotes"]) <= 3
    for quote in answered["quotes"]:
        assert set(quote) == {
            *("source", "start", "end", "text", "highlight", "score"),
            *("title", "date", "url", "page", "section"),  # issue 8: nullable citation keys
        }
        assert quote["page"] is None and quote["section"] is None  # a plain .txt
        assert text[quote["start"] : quote["end"]] == quote["text"]
    assert declined["declined"] and declined["quotes"] == []


@pytest.mark.model
def test_eval_reports_the_metrics(tmp_path: Path, knowledge: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "What should the organizations develop to increase financial capacity?",'
        ' "answers": ["collective economy"]}\n'
        '{"question": "What is the capital of Peru?", "answers": []}\n'
    )
    result = quotebot(
        "--knowledge",
        str(knowledge),
        "--index-dir",
        str(tmp_path / "idx"),
        "eval",
        str(questions),
        "--json",
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    assert report["hit_at_1"] == 1.0 and report["off_topic_declined"] == 1.0
    assert report["wrongly_declined"] == 0.0 and report["mean_quote_chars"] > 0


@pytest.mark.model
def test_ask_follow_ups_contract(tmp_path: Path, knowledge: Path) -> None:
    stdin = (
        "What should the organizations develop to increase financial capacity?\n"
        "And which kind above all?\n\nAnd which kind above all?\n"
    )
    result = quotebot(
        "--knowledge",
        str(knowledge),
        "--index-dir",
        str(tmp_path / "idx"),
        "ask",
        "-",
        "--json",
        "--follow-ups",
        cwd=tmp_path,
        stdin=stdin,
    )
    first, follow, fresh = (json.loads(line) for line in result.stdout.splitlines())
    assert first["context"] == [] and follow["context"] == [first["question"]]
    assert fresh["context"] == []  # the blank line started a new conversation


@pytest.mark.model
def test_sources_and_text_commands(tmp_path: Path) -> None:
    from bot.ingest.extraction import extract
    from tests.test_ingest_extraction import NEWS_PAGE, _report_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "news.html").write_text(NEWS_PAGE, encoding="utf-8")
    (folder / "handbook.pdf").write_bytes(_report_pdf(pages=2))
    base = ("--knowledge", str(folder), "--index-dir", str(tmp_path / "idx"))
    listed = quotebot(*base, "sources", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {row["source"]: row for row in json.loads(listed.stdout)}
    assert rows["news.html"]["format"] == "html" and rows["handbook.pdf"]["pages"] == 2
    assert rows["news.html"]["title"] == "Rivers rise after storm"
    for source in ("news.html", "handbook.pdf"):
        shown = quotebot(*base, "text", source, cwd=tmp_path)
        path = folder / source
        assert shown.returncode == 0 and shown.stdout == extract(path, path.read_bytes()).text
    missing = quotebot(*base, "text", "nope.txt", cwd=tmp_path)
    assert missing.returncode == 2 and "no indexed document" in missing.stderr


@pytest.mark.subprocess
def test_index_watch_is_a_writer_that_stops_cleanly(tmp_path: Path, knowledge: Path) -> None:
    """`quotebot index --watch` (fake model): an added document is indexed, SIGTERM ends it."""
    import signal

    from tests.conftest import ROOT as root

    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    command = [
        sys.executable,
        "-m",
        "tests.index_entry",
        "--knowledge",
        str(knowledge),
        "--index-dir",
        str(tmp_path / "idx"),
        "index",
        "--json",
        "--watch",
    ]
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": str(root)},
    )
    try:
        assert child.stdout is not None
        first = json.loads(child.stdout.readline())
        assert first["added"] and first["chunks_embedded"] > 0
        (knowledge / "new.txt").write_text("A lighthouse stands on the northern cape.\n")
        update = json.loads(child.stdout.readline())  # blocks until the watcher reports
        assert update["added"] == ["new.txt"]
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=15) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=15)  # reaps it and closes its pipes


@pytest.mark.subprocess
def test_ask_json_echoes_a_huge_question_only_as_searched(tmp_path: Path, knowledge: Path) -> None:
    """A 3 MB line on `ask - --json` (fake model): the echo is the part searched (at most
    max_question_chars) with `question_truncated`; an unsearchable one is cut the same way."""
    from bot.shared.text import normalize_for_matching

    huge = "What about the collective economy? " * 90_000
    invisible = "\u200b" * 3_000_000
    command = ["-m", "tests.index_entry", "--knowledge", str(knowledge), "ask", "-", "--json"]
    result = subprocess.run(
        [sys.executable, *command],
        cwd=tmp_path,
        input=f"{huge}\n{invisible}\nWhat about the collective economy?\n",
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert result.returncode == 1 and len(result.stdout) < 100_000, result.stderr
    cut, unsearchable, short = (json.loads(line) for line in result.stdout.splitlines())
    assert cut["question_truncated"] is True and 1000 < len(cut["question"]) <= 2000
    assert normalize_for_matching(huge).startswith(cut["question"] + " ")
    assert unsearchable["question"] == invisible[:2000] and unsearchable["question_truncated"]
    assert "empty" in unsearchable["error"]
    assert short["question"] == "What about the collective economy?"
    assert "question_truncated" not in short


@pytest.mark.subprocess
def test_changes_command_lists_what_changed_passage_by_passage(tmp_path: Path) -> None:
    """`quotebot changes` through a subprocess with the fake embedder (tests/index_entry.py)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    paragraphs = [
        f"The [bold]harbour[/bold] report, section {n}, says the committee examined the accounts "
        f"of the year and found that the budget had been spent on repairs, salaries and training, "
        f"with a small surplus carried over to the next year for section {n} of the port."
        for n in range(3)
    ]
    (folder / "a.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    (folder / "[red]b.txt").write_text(paragraphs[0] + "\n", encoding="utf-8")
    env = {"COLUMNS": "400"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = ("--knowledge", str(folder), "--index-dir", str(tmp_path / "idx"), *args)
        return subprocess.run(
            [sys.executable, "-m", "tests.index_entry", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            timeout=120,
        )

    assert run("index").returncode == 0
    edited = paragraphs[1].replace("repairs, salaries", "two new boats, salaries")
    (folder / "a.txt").write_text("\n\n".join([paragraphs[0], edited]) + "\n", encoding="utf-8")
    (folder / "[red]b.txt").unlink()

    listed = run("changes", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["since"] is None and data["generation"] == 2
    assert [entry["generation"] for entry in data["changes"]] == [1, 2]
    latest = data["changes"][1]
    assert set(latest) == {"generation", "time", "note", "documents"}
    documents = {d["source"]: d for d in latest["documents"]}
    assert documents["[red]b.txt"]["change"] == "removed"
    a = documents["a.txt"]
    assert a["change"] == "edited" and a["renamed_from"] is None
    assert [(p["change"], bool(p["old"]), bool(p["new"])) for p in a["passages"]] == [
        ("changed", True, True),
        ("removed", True, False),
    ]
    changed = a["passages"][0]
    assert changed["old"]["text"] == paragraphs[1] and changed["new"]["text"] == edited
    assert set(changed["new"]) == {"start", "end", "text"}

    after_first = run("changes", "--since", "1", "--json")
    assert [e["generation"] for e in json.loads(after_first.stdout)["changes"]] == [2]
    assert json.loads(after_first.stdout)["since"] == {"generation": 1}

    shown = run("changes", "--since", "1")
    assert shown.returncode == 0, shown.stderr
    assert "generation 2" in shown.stdout and "generation 1 " not in shown.stdout
    assert "[red]b.txt  removed (1 passage)" in shown.stdout  # names are not markup
    assert "a.txt  edited: 1 changed, 1 removed" in shown.stdout
    assert f"- {paragraphs[1]}" in shown.stdout and f"+ {edited}" in shown.stdout

    nothing = run("changes", "--since", "2")
    assert "No changes to the documents after generation 2." in nothing.stdout

    bad = run("changes", "--since", "last tuesday")
    error = bad.stderr.removeprefix("ready\n")  # index_entry's start-up line
    assert bad.returncode == 2 and error.count("\n") == 1
    assert error.startswith("quotebot: error: cannot read 'last tuesday'")

    sources = {r["source"]: r for r in json.loads(run("sources", "--json").stdout)}
    assert sources["a.txt"]["changed_at"] == latest["time"]


def test_the_composition_root_passes_what_it_is_given_and_builds_the_rest(
    knowledge: Path, make_settings: Any
) -> None:
    """The service builds nothing: cli.compose_service hands it the embedder and the store."""
    from bot.cli import compose_service
    from bot.stores.files import FileStore
    from tests.fakes import FakeEmbedder

    settings = make_settings(knowledge)
    embedder = FakeEmbedder()
    store = FileStore(settings.index_dir)
    given = compose_service(settings, embedder, store, on_notice=lambda m: None)
    assert given.embedder is embedder and given.store is store
    assert given.judge.applies is False  # the bundled calibration is for another model
    built = compose_service(settings, embedder, on_notice=lambda m: None)
    assert isinstance(built.store, FileStore) and built.store.directory == settings.index_dir
