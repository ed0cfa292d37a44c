"""Exact REPL transcripts (what was typed and what was printed, as literal strings), driven
through Repl.handle with a recording console, or through the real prompt fed keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from bot.answering.calibration import Calibration
from bot.cli import compose_service
from bot.config import Settings
from bot.index.report import UpdateReport
from bot.service import QuoteService
from bot.terminal.repl import CTRL_C_HINT, HELP, Repl, _loop, prompt_session
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder

INDEXED_AT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00")


def _repl(service: QuoteService) -> tuple[Repl, Console]:
    console = Console(record=True, width=120, color_system=None)
    return Repl(service, console, lambda s: s.refresh()), console


def _transcript(repl: Repl, console: Console, lines: list[str]) -> str:
    """What the user sees: each line typed after the prompt, then what the REPL printed for it.
    Lines are right-stripped (rich pads them to the console's width), and the time a document
    was indexed, the only clock in a transcript, reads YYYY-MM-DD hh:mm:ss+00:00."""
    shown = []
    for line in lines:
        assert repl.handle(line), f"{line!r} left the REPL"
        shown.append(f"? {line}\n{console.export_text(clear=True)}")
    text = "\n".join(line.rstrip() for line in "".join(shown).split("\n"))
    return INDEXED_AT.sub("YYYY-MM-DD hh:mm:ss+00:00", text)


def test_help_sources_unknown_and_quit(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    assert _transcript(repl, console, [":help", ":sources", ":frobnicate", "   "]) == (
        """\
? :help
Type a question and press Enter; answers are quotes from the documents.
  :new       start a new conversation (follow-ups like "and the second?" use earlier turns)
  :sources   list the indexed documents
  :reindex   bring the index up to date with the knowledge folder
  :follow    follow the last question: the next start lists it if its answer changed
  :following the questions you follow; :unfollow N stops following number N
  :good      the last answer's top quote answered the question (stored as feedback)
  :bad       it did not
  :help      this text
  :quit      leave (or Ctrl-D); Ctrl-C clears the line, or stops an answer being looked up
? :sources
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ document                                    ┃ size    ┃ chunks ┃ indexed                   ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ jingzhou-grassroots-party-organizations.txt │ 3,997 B │ 12     │ YYYY-MM-DD hh:mm:ss+00:00 │
└─────────────────────────────────────────────┴─────────┴────────┴───────────────────────────┘
? :frobnicate
unknown command ':frobnicate'; :help lists the commands
?
"""
    )
    assert not repl.handle(":quit")
    assert console.export_text() == ""


def test_question_and_empty_question(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    assert _transcript(repl, console, ["\u200b", "What about the collective economy?"]) == (
        """\
? \u200b
the question is empty; type a question to search the documents
? What about the collective economy?
1. jingzhou-grassroots-party-organizations.txt ¶18  score 0.66
│   Third, grassroots-level Party organizations should develop the collective economy to increase their financial
    capacity to service ordinary citizens. Developing and expanding collective economy, particularly rural collective
    economy is not only the key task of grassroots-level Party organizations but also the foundation to boost their
    service capacity.

"""
    )


def test_reindex_reports_counts(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    fake_service.refresh()
    assert _transcript(repl, console, [":reindex"]) == (
        """\
? :reindex
0 added, 0 changed, 0 removed, 1 unchanged; 0 chunks embedded, 12 in the index
"""
    )


def test_follow_up_shows_what_it_follows_and_new_resets(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    follow_up = ["What about the collective economy?", "And the infrastructure?"]
    assert _transcript(repl, console, [*follow_up, ":new", follow_up[1]]) == (
        """\
? What about the collective economy?
1. jingzhou-grassroots-party-organizations.txt ¶18  score 0.66
│   Third, grassroots-level Party organizations should develop the collective economy to increase their financial
    capacity to service ordinary citizens. Developing and expanding collective economy, particularly rural collective
    economy is not only the key task of grassroots-level Party organizations but also the foundation to boost their
    service capacity.

? And the infrastructure?
↳ following up on: What about the collective economy?
1. jingzhou-grassroots-party-organizations.txt ¶19  score 0.32
│   Fourth, grassroots-level Party organizations should improve the infrastructure and establish service platforms. The
    first step is to strive to push for the construction of buildings in which grassroots-level Party organizations can
    work and conduct activities, ensuring enough room for Party members and ordinary citizens to conduct activities in
    each village and community. The second is to establish service centers for Party members and ordinary citizens in
    rural areas and residential communities. The third is to streamline work procedures and improve service efficiency.

2. jingzhou-grassroots-party-organizations.txt ¶18  score 0.32
│   Third, grassroots-level Party organizations should develop the collective economy to increase their financial
    capacity to service ordinary citizens. Developing and expanding collective economy, particularly rural collective
    economy is not only the key task of grassroots-level Party organizations but also the foundation to boost their
    service capacity.

? :new
new conversation
? And the infrastructure?
1. jingzhou-grassroots-party-organizations.txt ¶19  score 0.36
│   Fourth, grassroots-level Party organizations should improve the infrastructure and establish service platforms. The
    first step is to strive to push for the construction of buildings in which grassroots-level Party organizations can
    work and conduct activities, ensuring enough room for Party members and ordinary citizens to conduct activities in
    each village and community. The second is to establish service centers for Party members and ordinary citizens in
    rural areas and residential communities. The third is to streamline work procedures and improve service efficiency.

"""
    )


def test_markup_and_escapes_in_commands_and_names_are_shown_as_typed(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "[draft] report.txt").write_text("The quarterly budget rose by ten percent.\n")
    (folder / "clear\x1b[2J.md").write_text("---\ntitle: Budget [/] notes\n---\nTight.\n")
    service = compose_service(make_settings(folder), embedder=FakeEmbedder(), on_notice=print)
    repl, console = _repl(service)
    typed = [":[/]", ":[bold]\x1b]52;c;eA==\x07", ":sources"]
    assert _transcript(repl, console, typed) == (
        """\
? :[/]
unknown command ':[/]'; :help lists the commands
? :[bold]\x1b]52;c;eA==\x07
unknown command ':[bold]\\x1b]52;c;eA==\\x07'; :help lists the commands
? :sources
┏━━━━━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ document           ┃ size ┃ chunks ┃ indexed                   ┃
┡━━━━━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ [draft] report.txt │ 42 B │ 1      │ YYYY-MM-DD hh:mm:ss+00:00 │
│ clear\\x1b[2J.md    │ 39 B │ 1      │ YYYY-MM-DD hh:mm:ss+00:00 │
└────────────────────┴──────┴────────┴───────────────────────────┘
"""
    )


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
    service = compose_service(
        make_settings(knowledge), FakeEmbedder(), on_notice=lambda m: None, calibration=never
    )
    repl, console = _repl(service)
    question = "Who is the mayor of the collective economy?"
    assert _transcript(repl, console, [question]) == (
        """\
? Who is the mayor of the collective economy?
My documents don't say who the mayor of the collective economy is.
Related passages (not an answer):
1. jingzhou-grassroots-party-organizations.txt ¶18  score 0.50
│   Third, grassroots-level Party organizations should develop the collective economy to increase their financial
    capacity to service ordinary citizens. Developing and expanding collective economy, particularly rural collective
    economy is not only the key task of grassroots-level Party organizations but also the foundation to boost their
    service capacity.

"""
    )
    assert repl.last_answer is not None and repl.last_answer.declined


def test_more_and_follow_ups_after_a_decline_quote_nothing_as_an_answer(
    knowledge: Path, make_settings: Callable[..., Settings]
) -> None:
    """After a declined question there is nothing to continue: "more" says so, and a follow-up
    is judged like any question (here every passage is judged not to answer)."""
    never = Calibration(("coverage",), (0.0,), 0.0, (0.0,), (1.0,), threshold=1.1)
    service = compose_service(
        make_settings(knowledge), FakeEmbedder(), on_notice=lambda m: None, calibration=never
    )
    repl, console = _repl(service)
    typed = ["Who is the mayor of the collective economy?", "Tell me more.", "And his deputy?"]
    related = """\
1. jingzhou-grassroots-party-organizations.txt ¶18  score 0.50
│   Third, grassroots-level Party organizations should develop the collective economy to increase their financial
    capacity to service ordinary citizens. Developing and expanding collective economy, particularly rural collective
    economy is not only the key task of grassroots-level Party organizations but also the foundation to boost their
    service capacity.
"""
    assert _transcript(repl, console, typed) == (
        f"""\
? Who is the mayor of the collective economy?
My documents don't say who the mayor of the collective economy is.
Related passages (not an answer):
{related}
? Tell me more.
My documents did not answer the last question, so there is nothing more to show.
? And his deputy?
My documents don't answer “And his deputy?”.
Related passages (not an answer):
{related}
2. jingzhou-grassroots-party-organizations.txt ¶21  score 0.50
│   By People's Daily Online
    Tell a friend Print friendly Version Print friendly format Save to disk Save this
    Related News

    Copyright © 1997-2006 by all rights reserved

"""
    )
