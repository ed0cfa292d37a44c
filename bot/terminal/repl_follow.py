"""Followed questions in the REPL: `:follow`, `:following`, `:unfollow N`, and on the next start
the followed questions whose answers changed since (old → new top quote), then marked seen.

The rows live in a SQLite file beside the REPL's history (`<index dir>/../repl-following.sqlite3`),
so they belong to the knowledge base the REPL serves, like the history does. Everything shown
comes from documents or questions, so it is printed as inert rich Text.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation
from bot.feedback.follows import FollowLimitError, FollowStore, Notice
from bot.shared.sqlite_db import Database
from bot.shared.terminal_safety import inert_text
from bot.shared.text import shorten_line
from bot.shared.wording import plural

if TYPE_CHECKING:
    from bot.feedback.follows import Followed

SURFACE = "repl"
FILE_NAME = "repl-following.sqlite3"
QUOTE_CHARS = 100

Converse = Callable[[Conversation, str], tuple[Answer, Conversation]]


def follows_path(index_dir: Path) -> Path:
    """Beside the REPL's history file (see bot.terminal.repl._prompt_reader)."""
    return Path(index_dir).parent / FILE_NAME


def open_follows(index_dir: Path) -> FollowStore:
    return FollowStore(Database(follows_path(index_dir)), time.time)


class ReplFollows:
    """The REPL user's followed questions (one local user: the login name)."""

    def __init__(self, store: FollowStore, console: Console, follower: str | None = None) -> None:
        self.store = store
        self.console = console
        self.follower = follower or getpass.getuser()

    def follow(self, question: str | None, context: Conversation, answer: Answer | None) -> None:
        if question is None or answer is None:
            self.console.print("nothing to follow yet: ask a question first")
            return
        try:
            _, new = self.store.follow(SURFACE, self.follower, question, context, answer)
        except FollowLimitError as exc:
            self.console.print(inert_text(f"{exc} (:following lists them, :unfollow N removes)"))
            return
        what = "following" if new else "already following"
        self.console.print(
            Text.assemble(
                f"{what}: ",
                inert_text(_one_line(question)),
                " (you will see here, on the next start, if its answer changes)",
            )
        )

    def list(self) -> None:
        rows = self.store.of(SURFACE, self.follower)
        if not rows:
            self.console.print("you follow no questions; :follow follows the last one asked")
            return
        self.console.print(f"{plural(len(rows), 'followed question')}:")
        for number, row in enumerate(rows, 1):
            self.console.print(
                Text.assemble(
                    f"{number}. ", inert_text(_one_line(row.question)), " → ", _at(row.seen)
                )
            )

    def unfollow(self, argument: str) -> None:
        rows = self.store.of(SURFACE, self.follower)
        if not argument.isdigit() or not 1 <= int(argument) <= len(rows):
            self.console.print(
                Text.assemble(
                    "give the number of a followed question (:following lists them), not ",
                    inert_text(repr(argument)),
                )
            )
            return
        row = rows[int(argument) - 1]
        self.store.remove(row.follow_id)
        self.console.print(
            Text.assemble("stopped following: ", inert_text(_one_line(row.question)))
        )

    def report_changes(self, converse: Converse, generation: int) -> None:
        """At start: answer each followed question again if a generation landed since it was
        last checked, list those whose top quote changed, and mark them seen."""
        for row in self.store.of(SURFACE, self.follower):
            if row.generation < generation:
                self.store.recheck(row, converse, generation)
        owed = self.store.owed(SURFACE, self.follower)
        if not owed:
            return
        self.console.print(
            f"{plural(len(owed), 'followed question')} answered differently since you last looked:"
        )
        for number, row in enumerate(owed, 1):
            assert row.notice is not None
            self.console.print(_notice_text(number, row, row.notice))
            self.store.delivered(row.follow_id)


def _notice_text(number: int, row: Followed, notice: Notice) -> Text:
    return Text.assemble(
        f"{number}. ",
        inert_text(_one_line(row.question)),
        "\n   was: ",
        _quoted(notice.old),
        "\n   now: ",
        _quoted(notice.new),
    )


def _quoted(quote: Quote | None) -> Text:
    if quote is None:
        return Text("(not answered by the documents)")
    return Text.assemble('"', inert_text(_short(quote.text)), '"\n        ', _at(quote))


def _at(quote: Quote | None) -> Text:
    if quote is None:
        return Text("(not answered by the documents)")
    from bot.terminal.render import position

    return inert_text(f"({position(quote)})")


def _one_line(text: str) -> str:
    return _short(text, 120)


def _short(text: str, limit: int = QUOTE_CHARS) -> str:
    return shorten_line(text, limit, trim=" ")
