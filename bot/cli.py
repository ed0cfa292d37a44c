"""Command line: `quotebot [--config FILE] [--knowledge DIR] [--index-dir DIR] COMMAND`.

Heavy modules (numpy, torch, discord) are imported inside the commands, so `--help` and errors
are instant. Every QuotebotError becomes one line on stderr and exit status 2 (75 for what a
later try may fix: Discord unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import QuotebotError
from bot.shared.terminal_safety import LAYOUT, inert, inert_last_resort, inert_text, json_line
from bot.shared.wording import plural

if TYPE_CHECKING:
    from bot.answering.calibration import Calibration
    from bot.config import Settings
    from bot.embedding.model import Embedder
    from bot.index.report import UpdateReport
    from bot.index.storage import Store
    from bot.index.update import ProgressCallback
    from bot.service import QuoteService


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quotebot", description="Answer questions about a folder of documents by quoting it."
    )
    parser.add_argument("--config", type=Path, help="TOML config file (default: ./config.toml)")
    parser.add_argument("--knowledge", type=Path, help="folder of documents (default: knowledge/)")
    parser.add_argument("--index-dir", type=Path, help="where the index is kept")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser(
        "index", help="bring the index up to date with the knowledge folder"
    )
    index.add_argument("--json", action="store_true", help="print the counts as JSON")
    index.add_argument(
        "--watch",
        action="store_true",
        help="then keep the index current as documents change, until Ctrl-C or SIGTERM "
        "(the one writer beside reader processes)",
    )
    index.set_defaults(run=cmd_index)

    ask = commands.add_parser("ask", help="answer one question ('-': one per line of stdin)")
    ask.add_argument("question", help="the question, or - to read questions from stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument(
        "--follow-ups",
        action="store_true",
        help="with -: lines are turns of one conversation; a blank line starts a new one",
    )
    ask.set_defaults(run=cmd_ask)

    evaluate = commands.add_parser("eval", help="score a question set (JSONL)")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=cmd_eval)

    sources = commands.add_parser(
        "sources", help="the indexed documents with format, title, date and size"
    )
    sources.add_argument("--json", action="store_true", help="print them as a JSON list")
    sources.set_defaults(run=cmd_sources)

    changes = commands.add_parser(
        "changes", help="what changed in the documents, passage by passage"
    )
    changes.add_argument(
        "--since",
        metavar="DATE|GENERATION",
        help="after this generation (7), since this date (2026-12-01) or for this long (3d, 12h)",
    )
    changes.add_argument("--json", action="store_true", help="print them as one JSON object")
    changes.set_defaults(run=cmd_changes)

    text = commands.add_parser("text", help="print the exact text that quote offsets refer to")
    text.add_argument("source", help="a source as shown by `quotebot sources`")
    text.set_defaults(run=cmd_text)

    repl = commands.add_parser("repl", help="interactive prompt over the knowledge folder")
    repl.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="re-index in the background when documents change (default: [knowledge] watch)",
    )
    repl.set_defaults(run=cmd_repl)

    add_discord_command(commands)
    _add_migrate(commands)
    add_feedback_command(commands)
    return parser


def add_feedback_command(commands: Any) -> None:
    feedback = commands.add_parser(
        "feedback", help="votes collected from users (Discord 👍/👎, REPL :good/:bad)"
    )
    actions = feedback.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the votes as an evaluation set (JSONL)")
    export.add_argument("file", type=Path)
    export.set_defaults(run=cmd_feedback_export)
    stats = actions.add_parser("stats", help="summarise the votes")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(run=cmd_feedback_stats)


def _feedback_store(settings: Settings) -> Any:
    from bot.errors import ConfigError
    from bot.feedback.votes import FeedbackStore

    path = settings.feedback.path
    if not path.is_file():
        raise ConfigError(f"no feedback collected yet: {path} does not exist ([feedback] path)")
    return FeedbackStore.open(path)


def cmd_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    report = _feedback_store(settings).export(args.file)
    print(inert(f"wrote {plural(report.written, 'question')} to {args.file}"), file=sys.stderr)
    if report.left_out:
        print(
            f"left out {plural(report.left_out, 'question')} with only 👎 votes "
            "(no known right answer)",
            file=sys.stderr,
        )
    return 0


def cmd_feedback_stats(args: argparse.Namespace, settings: Settings) -> int:
    stats = _feedback_store(settings).stats()
    if args.json:
        print(json_line(stats.to_json()))
        return 0
    share = "-" if stats.share_positive is None else f"{stats.share_positive:.0%}"
    print(
        f"{plural(stats.total, 'vote')} on {plural(stats.questions, 'question')}: "
        f"{stats.up} 👍, {stats.down} 👎 ({share} positive)"
    )
    for source in stats.by_source:
        print(f"  {inert(source.source)}: {source.up} 👍, {source.down} 👎")
    return 0


def _add_migrate(commands: Any) -> None:
    migrate = commands.add_parser(
        "migrate", help="copy the index to another store without re-embedding"
    )
    migrate.add_argument("--from", dest="source", choices=["files", "postgres"], required=True)
    migrate.add_argument("--to", dest="target", choices=["files", "postgres"], required=True)
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(run=cmd_migrate)


def main(
    argv: list[str] | None = None,
    *,
    service_factory: Callable[[Settings], QuoteService] | None = None,
) -> int:
    """Run one command. `service_factory` replaces the real service (tests hand in a fake model)."""
    args = build_parser().parse_args(argv)
    args.service_factory = service_factory or make_service
    inert_last_resort()  # e.g. the watcher's warnings under --watch
    _redact_last_resort()
    try:
        settings = _settings(args)
        from bot.embedding.blas_threads import (
            limit_blas_threads,  # before numpy or torch is imported
        )

        limit_blas_threads(settings.embedding.threads)
        result: int = args.run(args, settings)
        return result
    except QuotebotError as exc:
        if args.debug:
            _print_traceback()
        else:
            print(f"quotebot: error: {inert(_redacted(str(exc)))}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("quotebot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:  # a bug: its traceback is for a report, but never with a secret in it
        _print_traceback()
        return 1


def _redact_last_resort() -> None:
    """Log records that reach stderr through logging's last resort (no handler configured) have
    secrets removed, as the one error line does."""
    import logging

    from bot.shared.log_redaction import RedactingFilter, environment_secrets

    handler = logging.lastResort
    if handler is not None and not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter(environment_secrets()))


def _redacted(text: str) -> str:
    from bot.shared.log_redaction import environment_secrets, redact

    return redact(text, environment_secrets())


def _print_traceback() -> None:
    """The traceback Python would print, redacted: exception messages (chained ones too) may
    quote a database URL or a token."""
    import traceback

    sys.stderr.write(inert(_redacted(traceback.format_exc()), keep=LAYOUT))
    sys.stderr.flush()


def _settings(args: argparse.Namespace) -> Settings:
    from bot.config import load_settings

    overrides: dict[str, Any] = {}
    if args.knowledge is not None:
        overrides["knowledge"] = {"path": args.knowledge}
    if args.index_dir is not None:
        overrides["index"] = {"dir": args.index_dir}
    if getattr(args, "watch", None) is not None:
        overrides.setdefault("knowledge", {})["watch"] = args.watch
    return load_settings(args.config, overrides)


def make_service(settings: Settings) -> QuoteService:
    """The service of a command: the model the settings name, notices on stderr."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return compose_service(settings, on_notice=_notice)


def compose_service(
    settings: Settings,
    embedder: Embedder | None = None,
    store: Store | None = None,
    *,
    on_notice: Callable[[str], None] | None = None,
    calibration: Calibration | None = None,
) -> QuoteService:
    """The composition root: the embedder and the store the settings ask for (unless given:
    tests hand in fakes) and the service over them. Notices go to `on_notice` (default: the
    service's log)."""
    from bot.embedding.questions import make_embedder
    from bot.service import QuoteService, log_notice
    from bot.stores.open_store import open_store

    notice = on_notice or log_notice
    embedder = embedder or make_embedder(settings, notice)
    store = store or open_store(settings, notice)
    return QuoteService(settings, embedder, store, on_notice=notice, calibration=calibration)


def _notice(message: str) -> None:
    """One line on stderr; file names and document text in it are made inert."""
    print(f"quotebot: {inert(message)}", file=sys.stderr)


def refresh(service: QuoteService, *, quiet: bool = False) -> UpdateReport:
    """Bring the index up to date, with a progress bar on a terminal, warnings on stderr."""
    with _progress() as progress:
        report = service.refresh(progress=progress)
    for line in report.notices():
        _notice(f"warning: {line}")
    if report.changed_anything and not quiet:
        _notice(f"index updated: {report.summary()}")
    return report


@contextmanager
def _progress() -> Iterator[ProgressCallback | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "embedding",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("embedding", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    import time

    started = time.perf_counter()
    service = args.service_factory(settings)
    service.writes_index = True  # the writer, on a shared store too
    report = refresh(service, quiet=True)
    service.prepare_questions()  # makes the ONNX question encoder if missing or damaged
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        elapsed = time.perf_counter() - started
        print(f"{report.summary()} (generation {report.generation}, {elapsed:.1f} s)")
    if args.watch:
        return _watch_until_stopped(service, as_json=args.json)
    return 0


def _watch_until_stopped(service: QuoteService, *, as_json: bool) -> int:
    """Re-index on every change, one line (or JSON object) per update, until SIGINT/SIGTERM."""
    import signal
    import threading

    from bot.index.watcher import Watcher

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def show(report: UpdateReport) -> None:
        if report.changed_anything:
            print(json.dumps(report.to_json()) if as_json else report.summary(), flush=True)

    _notice(f"watching {service.knowledge} (Ctrl-C to stop)")
    with Watcher(service, on_update=show, on_error=lambda m: _notice(f"update failed: {m}")):
        stop.wait()
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answering.conversation import Conversation
    from bot.answering.question import Question
    from bot.errors import QuestionError
    from bot.terminal.render import answer_to_json, answer_to_json_with_context

    if args.question != "-":
        # Refused before the index is brought up to date; answered as parsed here.
        asked = Question.parse(args.question, settings.retrieval.max_question_chars)
    elif sys.stdin.isatty():
        _notice("reading questions from standard input, one per line (Ctrl-D to end)")
    service = args.service_factory(settings)
    refresh(service)
    printer = _json_printer if args.json else _terminal_printer()
    as_json = answer_to_json_with_context if args.follow_ups else answer_to_json
    if args.question != "-":
        answer = service.ask(asked)
        printer(as_json(answer) if args.json else answer)
        return 0
    status = 0
    conversation = Conversation()
    for raw in sys.stdin:  # lazily, so each answer appears as soon as its line is read
        question = raw.rstrip("\r\n")
        if not question.strip():
            conversation = Conversation()  # a blank line starts a new conversation
            continue
        try:
            if args.follow_ups:
                answer, conversation = service.converse(conversation, question)
            else:
                answer = service.ask(question)
        except QuestionError as exc:
            if args.json:
                print(json_line(_question_error(question, exc, settings)), flush=True)
            else:
                print(f"quotebot: {inert(str(exc))}", flush=True)
            status = 1
            continue
        printer(as_json(answer) if args.json else answer)
    return status


def _question_error(question: str, exc: Exception, settings: Settings) -> dict[str, Any]:
    """The `ask - --json` line for a question that cannot be searched; a huge one is echoed
    only up to max_question_chars, like an answered one."""
    limit = settings.retrieval.max_question_chars
    cut = {"question_truncated": True} if len(question) > limit else {}
    return {"question": question[:limit], "error": str(exc), **cut}


def _json_printer(data: Any) -> None:
    print(json_line(data), flush=True)


def _terminal_printer() -> Callable[[Any], None]:
    from rich.console import Console

    from bot.terminal.render import answer_to_terminal

    console = Console()
    return lambda answer: console.print(answer_to_terminal(answer))


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.evaluation.conversations import is_conversation_file
    from bot.evaluation.questions import by_docs, evaluate, load_questions

    if is_conversation_file(args.file):
        return _eval_conversations(args, settings)
    questions = load_questions(args.file)
    groups = by_docs(questions)
    if len(groups) > 1 or None not in groups:
        return _eval_by_docs(args, settings, groups)
    service = args.service_factory(settings)
    refresh(service)
    report = evaluate(service, questions)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    _print_eval_table(f"{args.file} over {settings.knowledge.path}", [("", report)])
    return 0


def _eval_by_docs(
    args: argparse.Namespace, settings: Settings, groups: dict[str | None, list[Any]]
) -> int:
    """A question set naming the knowledge of each question (`docs`): one row per knowledge."""
    from bot.evaluation.conversations import docs_folder
    from bot.evaluation.questions import evaluate

    reports = []
    for docs, questions in groups.items():
        folder = docs_folder(docs, args.file, settings.knowledge.path)
        service = args.service_factory(_settings_for_folder(args, settings, folder))
        refresh(service)
        reports.append((docs or "seed", evaluate(service, questions)))
    if args.json:
        print(json.dumps({"sets": {name: report.to_json() for name, report in reports}}))
        return 0
    _print_eval_table(f"{args.file}, by the documents each question is about", reports)
    return 0


def _settings_for_folder(args: argparse.Namespace, settings: Settings, folder: Path) -> Settings:
    """The settings with another knowledge folder, indexed beside the others."""
    if folder == settings.knowledge.path:
        return settings
    from bot.config import load_settings

    return load_settings(args.config, {"knowledge": {"path": folder}, "index": {"dir": None}})


def _print_eval_table(title: str, reports: list[tuple[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=inert_text(title))
    columns = ["answerable", "hit@1", "hit@3", "MRR@10", "unanswerable declined"]
    for column in (["set"] if len(reports) > 1 else []) + columns:
        table.add_column(column, justify="right")
    table.add_column("answerable declined", justify="right")
    table.add_column("mean quote chars", justify="right")
    for name, report in reports:
        table.add_row(
            *([name] if len(reports) > 1 else []),
            str(report.answerable),
            f"{report.hit_at_1:.3f}",
            f"{report.hit_at_3:.3f}",
            f"{report.mrr_at_10:.3f}",
            f"{report.off_topic_declined:.3f} of {report.off_topic}",
            f"{report.wrongly_declined:.3f}",
            f"{report.mean_quote_chars:.0f}",
        )
    Console().print(table)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from bot.stores.migrate import migrate

    report = migrate(settings, args.source, args.target, _notice)
    print(json.dumps(asdict(report)) if args.json else inert(report.summary()))
    return 0


def _eval_conversations(args: argparse.Namespace, settings: Settings) -> int:
    from bot.config import load_settings
    from bot.evaluation.conversations import docs_folder, evaluate_conversations, load_conversations

    conversations = load_conversations(args.file)
    services: dict[Path, QuoteService] = {}

    def service_for(docs: str | None) -> QuoteService:
        folder = docs_folder(docs, args.file, settings.knowledge.path)
        if folder not in services:
            overrides: dict[str, Any] = {"knowledge": {"path": folder}}
            if folder != settings.knowledge.path:  # its own index beside the others
                overrides["index"] = {"dir": None}
            folder_settings = (
                settings
                if folder == settings.knowledge.path
                else load_settings(args.config, overrides)
            )
            services[folder] = args.service_factory(folder_settings)
            refresh(services[folder])
        return services[folder]

    report = evaluate_conversations(conversations, service_for)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    from rich.console import Console
    from rich.table import Table

    title = f"{args.file}: conversation turns (with context / asked alone)"
    table = Table(title=inert_text(title))
    for column in ("kind", "turns", "hit@1", "hit@3", "alone hit@1", "alone hit@3"):
        table.add_column(column, justify="right")
    rows = [*sorted(report.by_kind.items()), ("follow-ups (all)", report.follow_ups)]
    for kind, score in rows:
        data = score.to_json()
        table.add_row(
            inert_text(kind),
            str(data["turns"]),
            f"{data['hit_at_1']:.3f}",
            f"{data['hit_at_3']:.3f}",
            f"{data['alone_hit_at_1']:.3f}",
            f"{data['alone_hit_at_3']:.3f}",
        )
    Console().print(table)
    return 0


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.render import sources_to_json, sources_to_terminal

    service = args.service_factory(settings)
    refresh(service)
    records = service.sources()
    from bot.index.changelog import last_changed

    changed = last_changed(service.changes())
    if args.json:
        print(json_line(sources_to_json(records, changed)))
        return 0
    from rich.console import Console

    Console().print(sources_to_terminal(records, changed))
    return 0


def cmd_changes(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from bot.index.changelog import parse_since, select
    from bot.terminal.changes import changes_to_json, changes_to_terminal

    since = parse_since(args.since, datetime.now(UTC))  # a bad value fails before any work
    service = args.service_factory(settings)
    refresh(service)
    entries = select(service.changes(), since)
    if args.json:
        generation = service.index.manifest.generation
        print(json_line(changes_to_json(entries, since, generation)))
        return 0
    from rich.console import Console

    Console().print(changes_to_terminal(entries, since))
    return 0


def cmd_text(args: argparse.Namespace, settings: Settings) -> int:
    service = args.service_factory(settings)
    refresh(service, quiet=True)
    text = service.document_text(args.source)
    # Exact bytes for a pipe or a file (offsets refer to them); a terminal sees them made inert.
    sys.stdout.write(inert(text, LAYOUT) if sys.stdout.isatty() else text)
    sys.stdout.flush()
    return 0


def cmd_repl(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.repl import run_repl

    return run_repl(args.service_factory(settings), refresh, watch=settings.knowledge.watch)


def add_discord_command(commands: Any) -> None:
    discord = commands.add_parser("discord", help="run the Discord bot (token from DISCORD_TOKEN)")
    discord.add_argument(
        "--sync",
        action="store_true",
        help="register the slash commands with Discord now (otherwise only when they changed)",
    )
    discord.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="re-index in the background when documents change (default: [knowledge] watch)",
    )
    discord.set_defaults(run=cmd_discord)


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from bot.discord.client import read_token

    read_token(os.environ)  # a missing token is reported before the model loads
    from contextlib import nullcontext

    from bot.discord.client import run

    service = args.service_factory(settings)
    with _background_watcher(service) if settings.knowledge.watch else nullcontext():
        return run(
            service,
            settings.discord,
            sync=args.sync,
            debug=args.debug,
            feedback_path=settings.feedback.path,
        )


def _background_watcher(service: QuoteService) -> Any:
    """Re-index when the knowledge folder changes; the bot logs each update (or failure)."""
    import logging

    from bot.index.watcher import Watcher

    log = logging.getLogger("quotebot.watch")
    return Watcher(
        service,
        on_update=lambda report: log.info("index updated: %s", report.summary()),
        on_error=lambda message: log.warning("index update failed: %s", message),
    )
