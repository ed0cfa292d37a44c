"""Exact REPL transcripts, driven through Repl.handle with a recording console."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from bot.answering.calibration import Calibration
from bot.config import Settings
from bot.index.update import UpdateReport
from bot.service import QuoteService
from bot.terminal.repl import CTRL_C_HINT, HELP, Repl, _loop, prompt_session
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder


def _repl(service: QuoteService) -> tuple[Repl, Console]:
    console = Console(record=True, width=120, color_system=None)
    return Repl(service, console, lambda s: s.refresh()), console


def test_help_sources_unknown_and_quit(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    assert repl.handle(":help")
    assert repl.handle(":sources")
    assert repl.handle(":frobnicate")
    assert repl.handle("   ")
    assert not repl.handle(":quit")
    out = console.export_text()
    assert out.startswith(HELP)
    assert "jingzhou-grassroots-party-organizations.txt" in out and "3,997 B" in out
    assert "unknown command ':frobnicate'; :help lists the commands" in out


def test_question_and_empty_question(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    repl.handle("\u200b")
    repl.handle("What about the collective economy?")
    out = console.export_text()
    assert out.splitlines()[0] == ("the question is empty; type a question to search the documents")
    assert "1. jingzhou-grassroots-party-organizations.txt ¶" in out
    assert "collective economy" in out


def test_reindex_reports_counts(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    fake_service.refresh()
    repl.handle(":reindex")
    assert "0 added, 0 changed, 0 removed, 1 unchanged; 0 chunks embedded" in console.export_text()


def test_follow_up_shows_what_it_follows_and_new_resets(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    repl.handle("What about the collective economy?")
    repl.handle("And the infrastructure?")
    assert "↳ following up on: What about the collective economy?" in console.export_text()
    repl.handle(":new")
    repl.handle("And the infrastructure?")
    out = console.export_text()
    assert out.startswith("new conversation") and "following up" not in out


def test_markup_and_escapes_in_commands_and_names_are_shown_as_typed(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "[draft] report.txt").write_text("The quarterly budget rose by ten percent.\n")
    (folder / "clear\x1b[2J.md").write_text("---\ntitle: Budget [/] notes\n---\nTight.\n")
    service = QuoteService(make_settings(folder), embedder=FakeEmbedder(), on_notice=print)
    repl, console = _repl(service)
    assert repl.handle(":[/]")
    assert repl.handle(":[bold]\x1b]52;c;eA==\x07")
    assert repl.handle(":sources")
    lines = console.export_text().splitlines()
    assert lines[:2] == [
        "unknown command ':[/]'; :help lists the commands",
        "unknown command ':[bold]\\x1b]52;c;eA==\\x07'; :help lists the commands",
    ]
    table = "\n".join(lines[2:])
    assert "[draft] report.txt" in table and "clear\\x1b[2J.md" in table


def _prompted(repl: Repl, console: Console, keys: str) -> str:
    """Run the REPL loop on the real prompt (prompt_toolkit) fed `keys`; the console's text."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as keyboard:
        keyboard.send_text(keys)
        session = prompt_session(None, keyboard, DummyOutput())
        assert _loop(repl, lambda: session.prompt("? "), console) == 0
    return console.export_text()


def test_ctrl_c_clears_a_half_typed_line_and_only_ctrl_d_leaves(
    fake_service: QuoteService,
) -> None:
    repl, console = _repl(fake_service)
    out = _prompted(repl, console, "What about the collect\x03:new\r\x03\x03:frobnicate\r\x04")
    assert out == (
        "new conversation\n"
        f"{CTRL_C_HINT}\n"
        f"{CTRL_C_HINT}\n"
        "unknown command ':frobnicate'; :help lists the commands\n"
        "bye\n"
    )
    assert "(or Ctrl-D); Ctrl-C clears the line" in HELP


def test_ctrl_c_while_answering_stops_that_answer_and_stays(fake_service: QuoteService) -> None:
    def interrupted(service: QuoteService) -> UpdateReport:
        raise KeyboardInterrupt

    console = Console(record=True, width=120, color_system=None)
    repl = Repl(fake_service, console, interrupted)
    assert _prompted(repl, console, ":reindex\r:quit\r") == "interrupted\nbye\n"


@pytest.mark.subprocess
def test_repl_greets_with_a_singular_count_through_the_cli(tmp_path: Path, knowledge: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.index_entry", "--knowledge", str(knowledge), "repl"],
        cwd=tmp_path,
        input=":quit\n",
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "COLUMNS": "400"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"quotebot: 1 document from {knowledge}. Ask a question, or :help.",
        "bye",
    ]


def test_a_declined_question_shows_related_passages(
    knowledge: Path, make_settings: Callable[..., Settings]
) -> None:
    never = Calibration(("coverage",), (0.0,), 0.0, (0.0,), (1.0,), threshold=1.1)
    service = QuoteService(
        make_settings(knowledge), FakeEmbedder(), on_notice=lambda m: None, calibration=never
    )
    repl, console = _repl(service)
    repl.handle("Who is the mayor of the collective economy?")
    out = console.export_text()
    lines = out.splitlines()
    assert lines[0] == "My documents don't say who the mayor of the collective economy is."
    assert lines[1] == "Related passages (not an answer):"
    assert lines[2].startswith("1. jingzhou-grassroots-party-organizations.txt ¶")
    assert "score 0.50" in lines[2]
    assert "collective economy" in out
    assert repl.last_answer is not None and repl.last_answer.declined
