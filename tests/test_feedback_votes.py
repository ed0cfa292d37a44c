"""Feedback votes: stored durably (SIGKILL of the writer loses no acknowledged vote), replaced on
re-vote, summarised, exported as an evaluation set that `quotebot eval` replays, and written by
the REPL's :good / :bad."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from bot.answering.compose import Answer, Quote
from bot.cli import compose_service, main
from bot.config import Settings
from bot.feedback.votes import DOWN, UP, FeedbackStore, Vote, export_lines
from bot.service import QuoteService
from bot.terminal.repl import Repl
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def answer(question: str, text: str = "The library opens in spring.", *context: str) -> Answer:
    quote = Quote("town.txt", 10, 10 + len(text), text, None, 0.5, 2)
    return Answer(question, (quote,), False, None, context)


def vote(store: FeedbackStore, a: Answer, value: int, who: str, answer_id: str = "a1") -> Vote:
    v = Vote.on(
        a,
        answer_id=answer_id,
        user_hash=store.user_hash("discord", who),
        surface="discord",
        vote=value,
        now=NOW,
    )
    store.record(v)
    return v


def test_votes_are_stored_replaced_and_summarised(tmp_path: Path) -> None:
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    vote(store, answer("When?"), UP, "1")
    vote(store, answer("When?"), DOWN, "1")  # the same person changes their mind
    vote(store, answer("When?"), UP, "2")
    vote(store, answer("Who?", "Maria.", "When?"), DOWN, "1", answer_id="a2")
    votes = FeedbackStore.open(tmp_path / "f.sqlite3").votes()  # a fresh connection reads them
    assert [(v.question, v.vote) for v in votes] == [("When?", DOWN), ("When?", UP), ("Who?", DOWN)]
    assert votes[2].context == ("When?",) and votes[2].quote == "Maria."
    assert votes[0].created_at == "2026-01-02T03:04:05+00:00"
    stats = store.stats()
    assert (stats.up, stats.down, stats.questions, stats.share_positive) == (1, 2, 2, 0.3333)
    assert stats.by_source[0].source == "town.txt" and stats.by_surface == {"discord": 3}
    other = FeedbackStore.open(tmp_path / "other.sqlite3")
    assert other.user_hash("discord", "1") != store.user_hash("discord", "1")  # salted per DB
    with pytest.raises(Exception, match="no quote"):
        Vote.on(
            Answer("q", (), True), answer_id="x", user_hash="h", surface="repl", vote=UP, now=NOW
        )


def test_export_keeps_right_answers_and_records_misses_apart(tmp_path: Path) -> None:
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    vote(store, answer("When?"), UP, "1")
    vote(store, answer("When?", "Wrong passage."), DOWN, "2", answer_id="a2")
    vote(store, answer("Only bad?", "Nope."), DOWN, "1", answer_id="a3")
    vote(store, answer("Who?", "Maria.", "When?"), UP, "1", answer_id="a4")
    assert export_lines(store.votes()) == [
        {
            "question": "When?",
            "answers": ["The library opens in spring."],
            "wrong": ["Wrong passage."],
        },
        {"question": "Who?", "answers": ["Maria."], "context": ["When?"]},
    ]
    report = store.export(tmp_path / "out.jsonl")
    assert (report.written, report.left_out) == (2, 1)


@pytest.fixture
def service_factory() -> Callable[[Settings], QuoteService]:
    return lambda settings: compose_service(
        settings, embedder=FakeEmbedder(), on_notice=lambda m: None
    )


def test_export_is_replayed_by_quotebot_eval(
    knowledge: Path,
    tmp_path: Path,
    service_factory: Callable[[Settings], QuoteService],
    capsys: pytest.CaptureFixture[str],
    make_settings: Callable[..., Settings],
) -> None:
    service = service_factory(make_settings(knowledge))
    store = FeedbackStore.open(Path(".quotebot/feedback.sqlite3"))  # the default [feedback] path
    questions = [
        "What measures did Jingzhou take for grassroots party organizations?",
        "Who leads the party branch?",
    ]
    for number, question in enumerate(questions):
        shown = service.ask(question)
        assert not shown.declined
        vote(store, shown, UP, "1", answer_id=f"q{number}")
    args = ["--knowledge", str(knowledge), "--index-dir", str(tmp_path / "index")]
    out = tmp_path / "votes.jsonl"
    assert main([*args, "feedback", "export", str(out)], service_factory=service_factory) == 0
    assert [json.loads(line)["question"] for line in out.read_text().splitlines()] == questions
    capsys.readouterr()
    assert main([*args, "eval", str(out), "--json"], service_factory=service_factory) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["answerable"] == 2 and report["hit_at_1"] == 1.0
    assert main([*args, "feedback", "stats", "--json"], service_factory=service_factory) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["votes"] == 2 and stats["share_positive"] == 1.0


def test_feedback_commands_without_a_database_say_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["feedback", "stats"]) == 2
    assert "no feedback collected yet" in capsys.readouterr().err


WRITER = """
import sys
from datetime import UTC, datetime
from bot.answering.compose import Answer, Quote
from bot.feedback.votes import FeedbackStore, Vote
store = FeedbackStore.open(sys.argv[1])
i = 0
while True:
    quote = Quote("town.txt", 0, 5, "words", None, 0.5, 1)
    answer = Answer(f"question {i}", (quote,), False)
    store.record(Vote.on(answer, answer_id=f"a{i}", user_hash="h", surface="repl", vote=1,
                         now=datetime.now(UTC)))
    print(f"acked {i}", flush=True)  # what "Thanks, noted" is to a user
    i += 1
"""


@pytest.mark.subprocess
def test_acknowledged_votes_survive_sigkill_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert writer.stdout is not None
    acked = []
    for line in writer.stdout:
        acked.append(int(line.split()[1]))
        if len(acked) >= 40:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    acked.extend(int(line.split()[1]) for line in writer.stdout if line.startswith("acked"))
    writer.stdout.close()
    stored = {v.question for v in FeedbackStore.open(path).votes()}
    assert {f"question {i}" for i in acked} <= stored  # every acknowledged vote is there
    assert len(stored) <= len(acked) + 1  # at most the one in flight besides


def test_repl_good_and_bad_rate_the_last_answer(fake_service: QuoteService, tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    repl = Repl(fake_service, console, lambda s: s.refresh(), feedback=store)
    repl.handle(":good")
    assert "nothing to rate yet" in console.export_text()
    repl.handle("What measures did Jingzhou take for grassroots party organizations?")
    repl.handle(":good")
    repl.handle(":bad")  # changes the vote on the same answer
    assert "noted: bad answer" in console.export_text()
    [stored] = store.votes()
    assert stored.vote == DOWN and stored.surface == "repl"
    assert stored.question.startswith("What measures")
    assert stored.quote == repl.last_answer.quotes[0].text  # type: ignore[union-attr]
