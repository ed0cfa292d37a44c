"""Conversations on Discord, through the real discord.py client against the local stand-in.

Replies, per-user conversations, idle expiry, thread mode, the five answer buttons (component
interactions), the "Ask quotebot" message command, expired buttons, and buttons after a restart
(a new client on the same database). The service is the real QuoteService with the fake embedder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from bot.cli import compose_service
from bot.config import DiscordSettings, Settings
from bot.discord.answer_store import ChatStore
from bot.discord.chat import EXPIRED, THREAD_HINT, AnswerButton, ChatDesk
from bot.discord.client import QuoteBot
from bot.discord.cooldown import Cooldown
from bot.discord.follow import FollowDesk
from bot.discord.gate import Gate
from bot.discord.policy import Policy
from bot.discord.render import CONTENT_BUDGET
from bot.discord.sender import RefusedChannels, Sender
from bot.discord.sessions import ChatSessions
from bot.discord.text import width
from bot.discord.worker import WorkerExecutor
from bot.feedback.follows import FollowStore
from bot.feedback.votes import DOWN, UP, FeedbackStore
from bot.service import QuoteService
from bot.shared.sqlite_db import MEMORY, Database
from tests import discord_harness as harness
from tests.discord_stub import APP_ID, BOT_ID, CHANNEL_ID, USER_ID, DiscordStub, Request
from tests.fakes import FakeEmbedder

OTHER_USER = USER_ID + 1
FOLLOWING = "↳ following up on:"
TOWN = (
    "The city council met on Monday evening. The council approved a budget of three million for "
    "the new library.\n\n"
    "Construction of the library starts in spring. The architect of the library is Maria Lopez."
    "\n\nThe harbour festival takes place in August. Fireworks over the water end the festival."
    "\n\nThe harbour was dredged last year so that larger ships can dock. The dredging cost two "
    "million.\n\n"
    "The school board elected a new chair, Tom Becker. He taught mathematics for twenty years."
)
LIBRARY = "When does construction of the library start?"
HARBOUR = "When is the harbour festival?"
FOLLOW_UP = "Who is the architect of it?"


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service(tmp_path: Path, make_settings: Callable[..., Settings]) -> QuoteService:
    folder = tmp_path / "town"
    folder.mkdir()
    (folder / "town.txt").write_text(TOWN, encoding="utf-8")
    settings = make_settings(
        folder, chunking={"max_chars": 200, "min_chars": 0, "overlap_chars": 0}
    )
    return compose_service(settings, embedder=FakeEmbedder(), on_notice=lambda m: None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "feedback.sqlite3"


def running(
    service: QuoteService, db_path: Path, **options: Any
) -> AbstractAsyncContextManager[QuoteBot]:
    """The harness's bot with votes and answer state in `db_path`, and cooldowns out of the way
    unless a test sets `cooldown_rate`."""
    options.setdefault("cooldown_rate", 100)
    return harness.running(service, feedback=FeedbackStore.open(db_path), **options)


# ---------------------------------------------------------------------------- helpers
def posts(stub: DiscordStub, channel_id: int = CHANNEL_ID) -> list[Request]:
    return [
        r
        for r in stub.requests
        if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"
    ]


def bot_messages(stub: DiscordStub, channel_id: int = CHANNEL_ID) -> list[dict[str, Any]]:
    return [
        m
        for m in stub.messages.values()
        if m["channel_id"] == str(channel_id) and m["author"]["id"] in (str(BOT_ID), str(APP_ID))
    ]


async def reply_to_mention(stub: DiscordStub, count: int, channel_id: int = CHANNEL_ID) -> str:
    """Wait until the bot posted `count` messages in the channel; the last one's content."""
    await stub.wait_for(lambda _: len(posts(stub, channel_id)) >= count)
    return str(bot_messages(stub, channel_id)[-1]["content"])


async def answer_of(stub: DiscordStub, token: str, count: int = 1) -> dict[str, Any]:
    await stub.wait_for(lambda _: len(stub.followup_messages(token)) >= count)
    return stub.followup_messages(token)[-1]


async def callback_of(stub: DiscordStub, token: str) -> Request:
    await stub.wait_for(
        lambda _: any(r.path.endswith("/callback") for r in stub.messages_for(token))
    )
    return next(r for r in stub.messages_for(token) if r.path.endswith("/callback"))


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def button(message: dict[str, Any], action: str) -> str:
    return next(c for c in custom_ids(message) if c.startswith(f"qb:{action}:"))


def assert_safe(request: Request) -> None:
    body = request.body
    payload = body.get("data", body) if isinstance(body, dict) else {}
    mentions = payload.get("allowed_mentions") or {}
    assert mentions.get("parse") == [] and not mentions.get("users") and not mentions.get("roles")
    assert width(payload.get("content") or "") <= CONTENT_BUDGET


# ---------------------------------------------------------------------------- conversations
async def test_a_reply_continues_the_conversation_of_the_answer_replied_to(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        await stub.mention(LIBRARY)
        first = await reply_to_mention(stub, 1)
        library_answer = int(bot_messages(stub)[-1]["id"])
        assert "Construction of the library" in first and FOLLOWING not in first
        await stub.mention(HARBOUR)  # a new topic: the live conversation moves on
        assert FOLLOWING not in await reply_to_mention(stub, 2)
        # Replying to the first answer (ping on, as Discord clients default) goes back to it.
        await stub.say(FOLLOW_UP, reply_to=library_answer, mentions_bot=True)
        content = await reply_to_mention(stub, 3)
    assert f"{FOLLOWING} {LIBRARY}" in content
    assert "harbour" not in content.split("\n")[0]
    for request in posts(stub):
        assert_safe(request)


async def test_a_reply_without_the_ping_is_unreadable_and_says_so_once(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        await stub.mention(LIBRARY)
        await reply_to_mention(stub, 1)
        answer_id = int(bot_messages(stub)[-1]["id"])
        await stub.say(FOLLOW_UP, reply_to=answer_id, mentions_bot=False)  # content arrives ""
        assert "mention" in await reply_to_mention(stub, 2)
        await stub.say(FOLLOW_UP, reply_to=answer_id, mentions_bot=False)
        await stub.mention(HARBOUR)  # proves the second unreadable reply was handled already
        await reply_to_mention(stub, 3)
    contents = [r.body["content"] for r in posts(stub)]
    assert contents.count(THREAD_HINT) == 1


async def test_two_users_in_one_channel_stay_apart(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        first = await stub.slash("ask", {"question": LIBRARY})
        await answer_of(stub, first)
        other = await stub.slash("ask", {"question": FOLLOW_UP}, user_id=OTHER_USER)
        theirs = (await answer_of(stub, other))["content"]
        mine = await stub.slash("ask", {"question": FOLLOW_UP})
        ours = (await answer_of(stub, mine))["content"]
    assert FOLLOWING not in theirs  # the other user's follow-up is not read in my context
    assert f"{FOLLOWING} {LIBRARY}" in ours
    assert "Maria Lopez" in ours


async def test_a_conversation_is_forgotten_after_the_idle_time(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    clock = Clock(1000.0)
    async with running(service, db_path, clock=clock, conversation_idle_minutes=10):
        await answer_of(stub, await stub.slash("ask", {"question": LIBRARY}))
        clock.now += 9 * 60  # within the idle time: a follow-up
        early = await answer_of(stub, await stub.slash("ask", {"question": FOLLOW_UP}))
        clock.now += 10 * 60 + 1  # silent for longer than the idle time: a fresh start
        late = await answer_of(stub, await stub.slash("ask", {"question": FOLLOW_UP}))
    assert FOLLOWING in early["content"]
    assert FOLLOWING not in late["content"]


# ---------------------------------------------------------------------------- threads
async def test_thread_mode_opens_a_thread_and_keeps_the_conversation_there(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path, answer_in_thread=True):
        question = await stub.mention(LIBRARY)
        await stub.wait_for(lambda _: bool(stub.threads))
        [(thread_id, parent)] = stub.threads.items()
        assert parent == CHANNEL_ID
        create = stub.sent(f"/channels/{CHANNEL_ID}/messages/{question}/threads")
        assert create and create[0].body["name"] == LIBRARY
        first = await reply_to_mention(stub, 1, thread_id)
        assert "Construction of the library" in first
        assert posts(stub) == []  # nothing in the busy channel itself
        # Without the message-content intent a plain message in the thread arrives empty:
        # the bot says once how to ask, instead of ignoring it silently.
        await stub.say(FOLLOW_UP, channel_id=thread_id)
        assert await reply_to_mention(stub, 2, thread_id) == THREAD_HINT
        await stub.mention(FOLLOW_UP, channel_id=thread_id)
        followed = await reply_to_mention(stub, 3, thread_id)
        assert f"{FOLLOWING} {LIBRARY}" in followed
        token = await stub.slash(
            "ask", {"question": "And who taught mathematics?"}, channel_id=thread_id
        )
        in_thread = await answer_of(stub, token)
        assert len(stub.threads) == 1  # questions inside the thread open no new thread
        assert "Tom Becker" in in_thread["content"]
        # /ask in the channel opens a thread on the answer.
        token = await stub.slash("ask", {"question": HARBOUR})
        answer = await answer_of(stub, token)
        await stub.wait_for(lambda _: len(stub.threads) == 2)
    assert stub.sent(f"/channels/{CHANNEL_ID}/messages/{answer['id']}/threads")
    for request in [*posts(stub, thread_id), *stub.sent("/webhooks/")]:
        assert_safe(request)


# ---------------------------------------------------------------------------- buttons
async def test_each_button_does_its_job(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        token = await stub.slash("ask", {"question": LIBRARY})
        answer = await answer_of(stub, token)
        ids = custom_ids(answer)
        assert [i.split(":")[1] for i in ids] == ["more", "next", "up", "down", "follow"]
        assert all(len(i) <= 100 for i in ids) and len({i.split(":")[2] for i in ids}) == 1
        # More context: the passage next to the quote, in public, with fresh buttons.
        more = await stub.click(int(answer["id"]), button(answer, "more"))
        widened = await answer_of(stub, more)
        assert (await callback_of(stub, more)).body["type"] == 5  # deferred, thinking
        assert f"{FOLLOWING} {LIBRARY}" in widened["content"]
        assert "Construction of the library starts" not in widened["content"]  # never again
        assert not widened["flags"] & 64 and custom_ids(widened)
        # Next passage under the widened answer: one passage not shown before.
        nxt = await stub.click(int(widened["id"]), button(widened, "next"))
        next_answer = await answer_of(stub, nxt)
        shown = answer["content"] + widened["content"]
        first_line = next_answer["content"].split("\n")[1]
        assert first_line.lstrip("> ")[:30] not in shown
        # Votes: acknowledged privately, stored.
        up = await stub.click(int(answer["id"]), button(answer, "up"))
        down = await stub.click(int(answer["id"]), button(answer, "down"), user_id=OTHER_USER)
        for vote in (up, down):
            ack = await callback_of(stub, vote)
            assert ack.body["type"] == 4 and ack.body["data"]["flags"] & 64
            assert "Noted" in ack.body["data"]["content"]
        again = await stub.click(int(answer["id"]), button(answer, "down"))  # changes my vote
        await callback_of(stub, again)
    votes = FeedbackStore.open(db_path).votes()
    assert sorted(v.vote for v in votes) == [DOWN, DOWN]
    assert {v.question for v in votes} == {LIBRARY}
    assert votes[0].quote.startswith("Construction of the library starts")
    assert all(str(USER_ID) not in v.user_hash and len(v.user_hash) == 64 for v in votes)
    for request in stub.sent("/webhooks/") + stub.sent("/callback"):
        if request.body.get("type") != 5:  # a deferral carries no content
            assert_safe(request)


async def test_tell_me_more_after_a_declined_question_quotes_nothing(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    """A declined answer has no buttons; asked in words, "tell me more" says there was no
    answer to continue and shows no passage (it quoted the nearest unjudged one)."""
    from bot.answering.decline import NO_ANSWER_TO_CONTINUE

    async with running(service, db_path):
        await stub.mention("What is the price of copper in Peru?")
        declined = await reply_to_mention(stub, 1)
        assert "could not find" in declined and not custom_ids(bot_messages(stub)[-1])
        await stub.mention("tell me more")
        more = await reply_to_mention(stub, 2)
    assert NO_ANSWER_TO_CONTINUE in more
    assert not any(line.startswith(">") for line in more.splitlines()), more
    for request in posts(stub):
        assert_safe(request)


async def test_someone_elses_more_button_answers_them_privately(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        answer = await answer_of(stub, await stub.slash("ask", {"question": LIBRARY}))
        click = await stub.click(int(answer["id"]), button(answer, "more"), user_id=OTHER_USER)
        private = await answer_of(stub, click)
        assert private["flags"] & 64 and not private["components"]
        # The asker's conversation did not move: their follow-up still follows the first answer.
        mine = await answer_of(stub, await stub.slash("ask", {"question": FOLLOW_UP}))
    assert f"{FOLLOWING} {LIBRARY}" in mine["content"]
    assert "tell me more" not in mine["content"]


async def test_expired_and_unknown_buttons_are_answered_politely(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    wall = Clock(1_700_000_000.0)
    async with running(service, db_path, wall_clock=wall, buttons_expire_hours=1):
        answer = await answer_of(stub, await stub.slash("ask", {"question": LIBRARY}))
        wall.now += 3601
        tokens = [
            await stub.click(int(answer["id"]), button(answer, "more")),
            await stub.click(int(answer["id"]), button(answer, "up")),
        ]
        stub.messages[int(answer["id"])]["components"][0]["components"][0]["custom_id"] = (
            "qb:more:not-an-answer"
        )
        tokens.append(await stub.click(int(answer["id"]), "qb:more:not-an-answer"))
        for token in tokens:
            ack = await callback_of(stub, token)
            assert ack.body["type"] == 4
            assert ack.body["data"]["content"] == EXPIRED and ack.body["data"]["flags"] & 64
    assert FeedbackStore.open(db_path).votes() == []


async def test_buttons_and_replies_work_after_a_restart(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        answer = await answer_of(stub, await stub.slash("ask", {"question": LIBRARY}))
        await stub.mention(HARBOUR)
        await reply_to_mention(stub, 1)
        mention_answer = int(bot_messages(stub)[-1]["id"])
    async with running(service, db_path):  # a new client: nothing in memory survives
        more = await stub.click(int(answer["id"]), button(answer, "more"))
        widened = await answer_of(stub, more)
        vote = await stub.click(int(answer["id"]), button(answer, "up"))
        assert "Noted" in (await callback_of(stub, vote)).body["data"]["content"]
        await stub.say("And what ends it?", reply_to=mention_answer, mentions_bot=True)
        replied = await reply_to_mention(stub, 2)
    assert f"{FOLLOWING} {LIBRARY}" in widened["content"]
    assert f"{FOLLOWING} {HARBOUR}" in replied and "Fireworks" in replied
    assert [v.vote for v in FeedbackStore.open(db_path).votes()] == [UP]


# ---------------------------------------------------------------------------- context menu
async def test_ask_quotebot_answers_the_message_text(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path):
        target = stub.user_message(
            "hey @everyone, who is the architect of the library?", user_id=OTHER_USER
        )
        token = await stub.message_command("Ask quotebot", target)
        answer = await answer_of(stub, token)
        empty = await stub.message_command("Ask quotebot", stub.user_message("   "))
        refusal = await callback_of(stub, empty)
    assert (await callback_of(stub, token)).body["type"] == 5
    assert "Maria Lopez" in answer["content"] and custom_ids(answer)
    assert "@everyone" not in answer["content"]  # the question line is escaped
    assert refusal.body["data"]["flags"] & 64
    for request in stub.sent("/webhooks/"):
        assert_safe(request)


# ---------------------------------------------------------------------------- the desk alone
async def test_the_chat_desk_is_built_alone_from_its_objects(service: QuoteService) -> None:
    """No client, no connection: the desk is given its service, gate, sender, policy and
    cooldown, answers through them, and its buttons are its own class (a click goes to it)."""
    service.refresh()
    settings = DiscordSettings()
    feedback = FeedbackStore(Database(MEMORY))
    worker = WorkerExecutor()
    gate = Gate(worker, 1, 4)
    sender = Sender(RefusedChannels())
    threads: dict[int, int] = {}
    policy = Policy(settings, threads, RefusedChannels())
    unused: Any = None  # the follow desk's client: never reached without a click on 🔔
    follows = FollowDesk(
        service, gate, sender, unused, FollowStore(feedback.database, time.time), 0.0
    )
    desks = [
        ChatDesk(
            service,
            gate,
            sender,
            policy,
            Cooldown(100, 60.0),
            ChatSessions(600.0, time.monotonic),
            ChatStore(feedback.database, 3600.0, time.time),
            feedback,
            follows,
            threads=threads,
            answer_in_thread=False,
        )
        for _ in range(2)
    ]
    try:
        content = await desks[0].reply_content(
            "Who is the architect of the library?", show_question=True
        )
    finally:
        worker.shutdown()
    assert "Maria Lopez" in content
    view = desks[0].view("0123456789abcdef")
    assert [item.custom_id for item in view.children] == [
        f"qb:{action}:0123456789abcdef" for action in ("more", "next", "up", "down", "follow")
    ]
    assert all(isinstance(item, desks[0].button) for item in view.children)
    first, second = (desk.button for desk in desks)
    assert first is not second and issubclass(first, AnswerButton)
