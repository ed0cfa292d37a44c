"""What 1,000 followed questions cost a person asking on Discord while they are answered again.

The real QuoteBot (real discord.py client, the local stand-in for Discord, the real service with
the bundled model over knowledge/) holds N followed questions; a generation lands (another
writer edits nothing that matters: a line appended), and while the bot re-answers every followed
question, /ask questions are sent one at a time. Their latency (slash command to answer) is
compared with the same questions asked with nothing to re-check.

    .venv/bin/python -m bench.follow_load [--follows 1000] [--pace 0.0] [--questions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.answering.conversation import Conversation
from bot.cli import compose_service
from bot.config import DiscordSettings, load_settings
from bot.discord.client import QuoteBot
from bot.feedback.follows import FollowStore
from bot.feedback.votes import FeedbackStore
from tests.discord_stub import USER_ID, DiscordStub

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "knowledge" / "jingzhou-grassroots-party-organizations.txt"
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GqZ3kF.fake-bot-token-for-tests-0123456789abcdef"
QUESTIONS = [
    "What is the third measure?",
    "How do grassroots organizations serve citizens?",
    "What about the collective economy?",
    "Who are the top leaders listed?",
    "When was the article published?",
    "What should Party members do?",
    "What is the fifth respect?",
    "How is the service capacity enhanced?",
    "What is the foundation of the Party?",
    "Which province is Jingzhou in?",
]


async def _ask_all(stub: DiscordStub, count: int) -> list[float]:
    latencies = []
    for n in range(count):
        question = QUESTIONS[n % len(QUESTIONS)]
        started = time.perf_counter()
        token = await stub.slash("ask", {"question": question}, user_id=USER_ID + 10_000 + n)
        while not stub.followup_messages(token):
            await asyncio.sleep(0.002)
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    return latencies


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def run(follows: int, pace: float, questions: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="qb-follow-bench-"))
    knowledge = work / "knowledge"
    knowledge.mkdir()
    shutil.copy(SEED, knowledge / SEED.name)
    settings = load_settings(
        None, {"knowledge": {"path": knowledge}, "index": {"dir": work / "index"}}
    )
    service = compose_service(settings, on_notice=lambda m: None)
    service.refresh()
    database = work / "feedback.sqlite3"
    store = FollowStore(FeedbackStore.open(database).database, time.time)
    for n in range(follows):
        question = QUESTIONS[n % len(QUESTIONS)]
        answer, _ = service.converse(Conversation(), question)
        store.follow("discord", str(USER_ID + n), question, Conversation(), answer)
    stub = DiscordStub(token=TOKEN)
    await stub.start()
    result: dict[str, Any] = {"follows": follows, "pace_seconds": pace, "questions": questions}
    try:
        with stub.patched():
            bot = QuoteBot(
                service,
                DiscordSettings(
                    cooldown_rate=100, generation_poll_seconds=0.2, follow_pace_seconds=pace
                ),
                feedback=FeedbackStore.open(database),
                guild_ready_timeout=0.05,
            )
            task = asyncio.create_task(bot.start(TOKEN))
            await asyncio.wait_for(bot.wait_until_ready(), 120)
            result["idle"] = _summary(await _ask_all(stub, questions))
            with (knowledge / SEED.name).open("a", encoding="utf-8") as file:
                file.write("\nA line added by the benchmark.\n")
            writer = compose_service(settings, on_notice=lambda m: None)
            generation = (await asyncio.to_thread(writer.refresh)).generation
            started = time.perf_counter()
            while len(store.due(generation, "discord")) >= follows:  # not noticed yet
                await asyncio.sleep(0.01)
            busy = await _ask_all(stub, questions)
            left = len(store.due(generation, "discord"))
            while store.due(generation, "discord"):
                await asyncio.sleep(0.05)
            result["rechecking"] = _summary(busy)
            result["still_due_after_the_questions"] = left
            result["recheck_all_seconds"] = round(time.perf_counter() - started, 1)
            result["dms_sent"] = len(stub.dm_channels)  # the answers did not change: 0
            await bot.close()
            await asyncio.wait_for(task, 30)
    finally:
        await stub.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follows", type=int, default=1000)
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.follows, args.pace, args.questions))
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
