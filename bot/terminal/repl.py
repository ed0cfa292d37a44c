"""Interactive prompt over the knowledge folder: one question per line, quoted answers.

The loop is separate from prompt_toolkit (`Repl.handle`) so that transcripts can be tested exactly;
`run_repl` adds the real prompt with history when standard input is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.answering.conversation import Conversation
from bot.errors import QuestionError, QuotebotError
from bot.shared.terminal_safety import inert_text
from bot.shared.wording import plural
from bot.terminal.render import answer_to_terminal

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from bot.answering.compose import Answer
    from bot.feedback.votes import FeedbackStore
    from bot.index.report import UpdateReport
    from bot.index.watcher import Watcher
    from bot.service import QuoteService
    from bot.terminal.repl_follow import ReplFollows

HELP = """Type a question and press Enter; answers are quotes from the documents.
  :new       start a new conversation (follow-ups like "and the second?" use earlier turns)
  :sources   list the indexed documents
  :reindex   bring the index up to date with the knowledge folder
  :follow    follow the last question: the next start lists it if its answer changed
  :following the questions you follow; :unfollow N stops following number N
  :good      the last answer's top quote answered the question (stored as feedback)
  :bad       it did not
  :help      this text
  :quit      leave (or Ctrl-D); Ctrl-C clears the line, or stops an answer being looked up"""

CTRL_C_HINT = "(Ctrl-C clears the line; Ctrl-D or :quit leaves)"


class Repl:
    def __init__(
        self,
        service: QuoteService,
        console: Console,
        reindex: Callable[[QuoteService], UpdateReport],
        feedback: FeedbackStore | None = None,
        follows: ReplFollows | None = None,
    ) -> None:
        self.service = service
        self.console = console
        self._reindex = reindex
        self.conversation = Conversation()
        self.feedback: FeedbackStore | None = feedback  # opened on the first vote if None
        self.last_answer: Answer | None = None  # what :good / :bad rate
        self._last_answer_id = ""
        self.follows = follows  # opened on the first :follow if None
        self._last_question: tuple[str, Conversation] | None = None  # what :follow follows

    def handle(self, line: str) -> bool:
        """Act on one input line; False means leave."""
        command = line.strip()
        if not command:
            return True
        if command in (":quit", ":q", ":exit"):
            return False
        if command == ":new":
            self.conversation = Conversation()
            self.console.print("new conversation")
        elif command == ":help":
            self.console.print(HELP)
        elif command == ":sources":
            self.console.print(self._sources_table())
        elif command == ":reindex":
            report = self._reindex(self.service)
            self.console.print(report.summary())
        elif command in (":follow", ":following") or command.startswith(":unfollow"):
            self._follow_command(command)
        elif command in (":good", ":bad"):
            self._vote(good=command == ":good")
        elif command.startswith(":"):
            self.console.print(
                Text.assemble(
                    "unknown command ", inert_text(repr(command)), "; :help lists the commands"
                )
            )
        else:
            self._ask(line)
        return True

    def _ask(self, question: str) -> None:
        before = self.conversation
        try:
            answer, self.conversation = self.service.converse(self.conversation, question)
        except QuestionError as exc:
            self.console.print(inert_text(str(exc), "yellow"))
            return
        self._last_question = (question, before)
        self.remember(answer)
        self.console.print(answer_to_terminal(answer))

    def remember(self, answer: Answer) -> None:
        """The answer :good / :bad will rate (call it for every answer shown)."""
        import secrets

        self.last_answer = answer
        self._last_answer_id = "repl-" + secrets.token_hex(8)

    def _follow_command(self, command: str) -> None:
        if self.follows is None:
            from bot.terminal.repl_follow import ReplFollows, open_follows

            self.follows = ReplFollows(open_follows(self.service.settings.index_dir), self.console)
        follows = self.follows
        if command == ":follow":
            question, context = self._last_question or (None, Conversation())
            follows.follow(question, context, self.last_answer)
        elif command == ":following":
            follows.list()
        else:
            follows.unfollow(command.removeprefix(":unfollow").strip())

    def _vote(self, *, good: bool) -> None:
        """Rate the last answer's top quote; stored like a Discord vote (surface "repl")."""
        import getpass

        from bot.feedback.votes import DOWN, UP, FeedbackStore, Vote

        answer = self.last_answer
        if answer is None or not answer.quotes:
            self.console.print("nothing to rate yet: ask a question that gets a quote first")
            return
        if self.feedback is None:
            self.feedback = FeedbackStore.open(self.service.settings.feedback.path)
        store = self.feedback
        vote = Vote.on(
            answer,
            answer_id=self._last_answer_id,
            user_hash=store.user_hash("repl", getpass.getuser()),
            surface="repl",
            vote=UP if good else DOWN,
            now=store.now(),
        )
        store.record(vote)
        top = answer.quotes[0]
        self.console.print(
            inert_text(f"noted: {'good' if good else 'bad'} answer ({top.source} ¶{top.paragraph})")
        )

    def _sources_table(self) -> Table:
        table = Table("document", "size", "chunks", "indexed")
        for record in self.service.sources():
            table.add_row(  # Text cells: a name like `[draft] notes.txt` is not markup
                inert_text(record.source),
                f"{record.size:,} B",
                str(record.chunks),
                inert_text(record.indexed_at.replace("T", " ")),
            )
        return table


def run_repl(
    service: QuoteService,
    reindex: Callable[[QuoteService], UpdateReport],
    *,
    watch: bool = False,
) -> int:
    console = Console()
    reindex(service)
    with console.status("loading the embedding model ..."):
        service.ask("warm up")  # loads the model and the keyword index before the first prompt
    repl = Repl(service, console, reindex)
    console.print(
        inert_text(
            f"quotebot: {plural(service.document_count(), 'document')} from "
            f"{service.knowledge}. Ask a question, or :help."
        )
    )
    _followed_changes(repl, service)
    interactive = sys.stdin.isatty()
    read = _prompt_reader(service) if interactive else _plain_reader()
    with ExitStack() as stack:
        if watch:
            if interactive:  # notices printed from the watcher thread must not garble the prompt
                from prompt_toolkit.patch_stdout import patch_stdout

                stack.enter_context(patch_stdout(raw=True))
            stack.enter_context(_watch(service, console))
        return _loop(repl, read, console)


def _followed_changes(repl: Repl, service: QuoteService) -> None:
    """The followed questions answered differently since the last start (none followed: no file
    is created)."""
    from bot.terminal.repl_follow import ReplFollows, follows_path, open_follows

    path = follows_path(service.settings.index_dir)
    if not path.exists():
        return
    try:  # a broken file must not keep the REPL from starting
        repl.follows = ReplFollows(open_follows(service.settings.index_dir), repl.console)
        repl.follows.report_changes(service.converse, service.index.manifest.generation)
    except QuotebotError as exc:
        repl.console.print(
            inert_text(f"warning: could not check the followed questions: {exc}", "yellow")
        )


def _watch(service: QuoteService, console: Console) -> Watcher:
    """A watcher whose one-line notices go to the console: `index updated: ...`."""
    from bot.index.watcher import Watcher

    def updated(report: UpdateReport) -> None:
        console.print(
            f"index updated (generation {report.generation}): {len(report.added)} added, "
            f"{len(report.changed)} changed, {len(report.removed)} removed",
            soft_wrap=True,
            markup=False,
        )

    def failed(message: str) -> None:
        console.print(inert_text(f"warning: {message}", "yellow"), soft_wrap=True)

    console.print(inert_text(f"watching {service.knowledge} for changes"))
    return Watcher(service, on_update=updated, on_error=failed)


def _loop(repl: Repl, read: Callable[[], str], console: Console) -> int:
    """Only end of input (Ctrl-D) or :quit leaves: Ctrl-C at an empty prompt prints a hint (at a
    half-typed one the reader clears the line), and Ctrl-C while answering stops that answer."""
    while True:
        try:
            line = read()
        except EOFError:
            console.print("bye")
            return 0
        except KeyboardInterrupt:
            console.print(CTRL_C_HINT, style="dim", markup=False)
            continue
        try:
            if not repl.handle(line):
                console.print("bye")
                return 0
        except QuotebotError as exc:
            console.print(Text.assemble(("error:", "red"), " ", inert_text(str(exc))))
        except KeyboardInterrupt:
            console.print("interrupted", style="dim")


def _prompt_reader(service: QuoteService) -> Callable[[], str]:
    history = Path(service.settings.index_dir).parent / "repl-history"
    history.parent.mkdir(parents=True, exist_ok=True)
    session = prompt_session(history)
    return lambda: session.prompt("? ")


def prompt_session(
    history: Path | None, input: Input | None = None, output: Output | None = None
) -> PromptSession[str]:
    """The REPL's prompt: Ctrl-C clears a half-typed line and stays (as IPython does); on an
    empty line it raises KeyboardInterrupt, which `_loop` answers with a hint."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    bindings = KeyBindings()

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.text:
            buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt(), style="class:aborting")

    return PromptSession(
        history=FileHistory(str(history)) if history else InMemoryHistory(),
        key_bindings=bindings,
        input=input,
        output=output,
    )


def _plain_reader() -> Callable[[], str]:
    def read() -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read
