"""`:follow`, `:following`, `:unfollow N` and the changes listed on the next start: exact transcripts."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from rich.console import Console

from bot.service import QuoteService
from bot.terminal.repl import Repl, _followed_changes
from bot.terminal.repl_follow import follows_path
from tests.conftest import SEED

QUESTION = "What about the collective economy?"
OLD = "develop the collective economy to increase"


def _repl(service: QuoteService) -> tuple[Repl, Console]:
    console = Console(record=True, width=200, color_system=None)
    return Repl(service, console, lambda s: s.refresh()), console


def _restart(service: QuoteService) -> str:
    """What the REPL prints on start, after the banner, about followed questions."""
    repl, console = _repl(service)
    _followed_changes(repl, service)
    return console.export_text()


def test_follow_list_unfollow_and_nothing_to_follow(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    repl.handle(":follow")
    repl.handle(":following")
    repl.handle(QUESTION)
    console.export_text()  # the answer itself is tested elsewhere
    repl.handle(":follow")
    repl.handle(":follow")
    repl.handle(":following")
    repl.handle(":unfollow 2")
    repl.handle(":unfollow x[/]")
    repl.handle(":unfollow 1")
    repl.handle(":following")
    assert console.export_text().splitlines() == [
        f"following: {QUESTION} (you will see here, on the next start, if its answer changes)",
        f"already following: {QUESTION} (you will see here, on the next start, if its answer changes)",
        "1 followed question:",
        f"1. {QUESTION} → (jingzhou-grassroots-party-organizations.txt ¶18)",
        "give the number of a followed question (:following lists them), not '2'",
        "give the number of a followed question (:following lists them), not 'x[/]'",
        f"stopped following: {QUESTION}",
        "you follow no questions; :follow follows the last one asked",
    ]
    assert follows_path(fake_service.settings.index_dir).exists()


def test_nothing_to_follow_before_a_question(fake_service: QuoteService) -> None:
    repl, console = _repl(fake_service)
    repl.handle(":follow")
    repl.handle(":following")
    assert console.export_text().splitlines() == [
        "nothing to follow yet: ask a question first",
        "you follow no questions; :follow follows the last one asked",
    ]


def test_next_start_lists_a_changed_answer_once(
    fake_service: QuoteService, knowledge: Path
) -> None:
    assert _restart(fake_service) == ""  # nothing followed: no file made, nothing said
    assert not follows_path(fake_service.settings.index_dir).exists()
    repl, _ = _repl(fake_service)
    repl.handle(QUESTION)
    repl.handle(":follow")
    document = knowledge / SEED.name
    # An update elsewhere in the document: the answer is the same, nothing is listed.
    document.write_text(document.read_text() + "\nA closing line about something else.\n")
    assert fake_service.refresh().generation == 2
    assert _restart(fake_service) == ""
    text = document.read_text()
    assert OLD in text
    document.write_text(text.replace(OLD, "grow the collective economy\x1b[2J to increase"))
    fake_service.refresh()
    assert _restart(fake_service).splitlines() == [
        "1 followed question answered differently since you last looked:",
        f"1. {QUESTION}",
        '   was: "Third, grassroots-level Party organizations should develop the collective economy to increase their…"',
        "        (jingzhou-grassroots-party-organizations.txt ¶18)",
        '   now: "Third, grassroots-level Party organizations should grow the collective economy\\x1b[2J to increase thei…"',
        "        (jingzhou-grassroots-party-organizations.txt ¶18)",
    ]
    assert _restart(fake_service) == ""  # marked seen: listed once


def test_follows_belong_to_the_local_user(fake_service: QuoteService) -> None:
    repl, _ = _repl(fake_service)
    repl.handle(QUESTION)
    repl.handle(":follow")
    assert repl.follows is not None and repl.follows.follower == getpass.getuser()


@pytest.mark.subprocess
def test_a_broken_follows_file_is_a_warning_at_start_not_a_failure(
    fake_service: QuoteService,
) -> None:
    path = follows_path(fake_service.settings.index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database, just bytes " * 100)
    said = _restart(fake_service).replace("\n", "")  # one line, however wide the console
    assert said.startswith("warning: could not check the followed questions: cannot open")
    assert str(path) in said and said.endswith("file is not a database")
