"""Exact REPL transcripts, driven through Repl.handle with a recording console."""

from __future__ import annotations

from rich.console import Console

from bot.repl import HELP, Repl
from bot.service import QuoteService


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
