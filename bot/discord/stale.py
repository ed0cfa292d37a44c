"""Stale answers in Discord: mark what an update changed under a posted answer, and Refresh it.

When the generation poller (bot.index.generation_watch) sees new generations, `on_generations` reads
the changelog, finds the answers posted in the last `track_answers_days` whose shown quotes one
of those generations changed or removed (bot.answering.stale), and queues one edit per answer (durably,
bot.discord.stale_queue) before the poller's cursor moves on. `run_edits` drains the queue, paced per
channel: the message is re-rendered from the stored answer with the affected quotes marked
"changed since this answer" and a Refresh button added. Answers whose quotes are untouched are
never edited; a message or channel that is gone (404/403) is dropped with one log line.

Refresh (`qbr:<answer id>`) answers the same question again, with the conversation the answer
had before it, from the generation served now, and edits the message in place: the new answer
takes over the message (replies to it continue the new conversation) and the marks go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord

from bot.answering.compose import Answer
from bot.answering.conversation import Conversation
from bot.answering.stale import newly_stale, quoted_spans
from bot.discord.answer_store import AnswerRecord, ChatStore, new_answer_id
from bot.discord.chat import EXPIRED
from bot.discord.cooldown import Cooldown
from bot.discord.gate import Gate
from bot.discord.policy import Policy
from bot.discord.render import MAX_QUOTES, NOT_HERE, cooldown_notice, render_answer
from bot.discord.sender import Sender
from bot.discord.service_protocol import Service
from bot.discord.stale_queue import BACKOFF_SECONDS, ChannelPacer, StaleEdit, StaleQueue

log = logging.getLogger(__name__)

REFRESH_ID = re.compile(r"qbr:(?P<answer>[0-9a-f]{16})")
SUBSCRIBER = "stale-answers"
ALREADY = "That answer was already refreshed."
REFRESH_FAILED = "I could not answer again just now: {reason}"
IDLE_SECONDS = 1.0  # how often an empty queue is looked at (new edits also wake it at once)

Sent = Literal["ok", "gone", "retry"]


class RefreshButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=REFRESH_ID.pattern,
):
    """Refresh under a marked answer; its custom_id names the answer, the rest is stored."""

    def __init__(self, answer_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Refresh",
                emoji="🔄",
                style=discord.ButtonStyle.success,
                custom_id=f"qbr:{answer_id}",
            )
        )
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RefreshButton:
        return cls(match["answer"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError("a RefreshButton bound to a desk handles clicks (refresh_button)")


def refresh_button(
    on_click: Callable[[discord.Interaction[Any], str], Awaitable[None]],
) -> type[RefreshButton]:
    """RefreshButton whose clicks go to `on_click(interaction, answer_id)` (one class per desk,
    as `bot.discord.chat.answer_button`)."""

    class Bound(RefreshButton, template=REFRESH_ID.pattern):
        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await on_click(interaction, self.answer_id)

    return Bound


class StaleDesk:
    def __init__(
        self,
        service: Service,
        gate: Gate,
        sender: Sender,
        policy: Policy,
        cooldown: Cooldown,
        client: discord.Client,
        answers: ChatStore,
        answer_view: Callable[[str], discord.ui.View],
        queue: StaleQueue,
        pacer: ChannelPacer,
        track_seconds: float,
    ) -> None:
        """`answers`: the stored answers (the chat desk's store); `answer_view`: the buttons
        under an answer (the chat desk's); `client`: the discord.py client, to reach messages
        by id; `track_seconds`: how long a posted answer is watched for changes."""
        self.service = service
        self.gate = gate
        self.sender = sender
        self.policy = policy
        self.cooldown = cooldown
        self.client = client
        self.answers = answers
        self.answer_view = answer_view
        self.queue = queue
        self.pacer = pacer
        self.track_seconds = track_seconds
        self.button = refresh_button(self.refresh)
        self._wake = asyncio.Event()

    def stale_view(self, answer_id: str) -> discord.ui.View:
        """The answer's own buttons, and Refresh."""
        view = self.answer_view(answer_id)
        view.add_item(self.button(answer_id))
        return view

    # ----------------------------------------------------------------- noticing
    async def on_generations(self, after: int, upto: int) -> None:
        """Queue an edit for every tracked answer that generations (after, upto] made stale.
        Idempotent: called again for the same range, it queues nothing new."""
        if self.track_seconds <= 0:
            return
        entries = [
            e for e in await self.gate.run_blocking(self.service.changes) if e.generation <= upto
        ]
        if not any(after < e.generation for e in entries):
            return
        store = self.answers
        posted = await asyncio.to_thread(store.posted_since, store.now() - self.track_seconds)
        edits: list[StaleEdit] = []
        for message_id, record in posted:
            answer = record.answer
            if answer.generation is None or answer.declined:
                continue
            quotes = quoted_spans(answer.quotes[:MAX_QUOTES])  # only what the message shows
            stale = newly_stale(answer.generation, quotes, entries, after, upto)
            if stale is not None:
                edits.append(
                    StaleEdit(message_id, upto, record.channel_id, record.answer_id, stale)
                )
        added = await asyncio.to_thread(self.queue.add, edits)
        log.info(
            "generations %d..%d changed quotes of %d tracked answers (%d edits queued)",
            after + 1,
            upto,
            len(edits),
            added,
        )
        self._wake.set()

    # ----------------------------------------------------------------- editing
    async def run_edits(self) -> None:
        """Drain the queue until cancelled, at most `stale_edits_per_second` per channel."""
        while True:
            try:
                edits = await asyncio.to_thread(self.queue.pending)
                if edits:
                    await self._drain(edits)
                    continue
            except Exception:  # the database, say: keep the bot up and try again shortly
                log.exception("stale-answer edits failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)

    async def _drain(self, edits: list[StaleEdit]) -> None:
        """Send `edits`, always the one whose channel may be edited soonest, so a channel with
        many waiting edits does not hold up the others."""
        remaining = list(edits)
        while remaining:
            edit = min(remaining, key=lambda e: self.pacer.wait(e.channel_id))
            remaining.remove(edit)
            delay = self.pacer.wait(edit.channel_id)
            if delay:
                await asyncio.sleep(delay)
            await self.apply(edit)

    async def apply(self, edit: StaleEdit) -> None:
        store = self.answers
        record = await asyncio.to_thread(store.by_message, edit.message_id, self.track_seconds)
        if record is None or record.answer_id != edit.answer_id:
            # Refreshed since (the message shows a newer answer), or no longer tracked.
            await asyncio.to_thread(self.queue.finish, edit, "dropped")
            return
        content = render_answer(record.answer, show_question=True, stale=edit.stale)
        self.pacer.sent(edit.channel_id)
        result = await self.edit_message(
            edit.channel_id, edit.message_id, content, self.stale_view(record.answer_id)
        )
        if result == "retry":
            attempts = await asyncio.to_thread(self.queue.failed, edit)
            if attempts is None:
                log.warning("gave up marking message %d as stale", edit.message_id)
            else:
                self.pacer.sent(edit.channel_id, hold=BACKOFF_SECONDS * 4 ** (attempts - 1))
            return
        await asyncio.to_thread(self.queue.finish, edit, "done" if result == "ok" else "dropped")

    async def edit_message(
        self, channel_id: int, message_id: int, content: str, view: discord.ui.View | None
    ) -> Sent:
        """Edit one of our messages; 404/403 (message or channel gone, access lost) and other
        4xx (e.g. an archived thread: retrying cannot help) are "gone", logged once and never
        retried; 5xx and network failures are "retry" (429s and the first 5xx retries are
        discord.py's)."""
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await message.edit(
                content=content, view=view, allowed_mentions=discord.AllowedMentions.none()
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info(
                "message %d in channel %d is gone (%s); not edited", message_id, channel_id, exc
            )
            return "gone"
        except discord.HTTPException as exc:
            if exc.status < 500:
                log.warning("Discord refused to edit message %d: %s (not retried)", message_id, exc)
                return "gone"
            log.warning("could not edit message %d: %s", message_id, exc)
            return "retry"
        except (OSError, TimeoutError) as exc:
            log.warning("could not edit message %d: %s", message_id, exc)
            return "retry"
        return "ok"

    # ----------------------------------------------------------------- Refresh
    async def refresh(self, interaction: discord.Interaction[Any], answer_id: str) -> None:
        if not self.policy.interaction_allowed(interaction):
            await self.sender.deliver(
                interaction.response.send_message(NOT_HERE, ephemeral=True), what="refusal"
            )
            return
        store = self.answers
        record = await asyncio.to_thread(store.get, answer_id, self.track_seconds)
        message = interaction.message
        if record is None or message is None:
            await self.sender.deliver(
                interaction.response.send_message(EXPIRED, ephemeral=True), what="expired notice"
            )
            return
        shown = await asyncio.to_thread(store.by_message, message.id, self.track_seconds)
        if shown is None or shown.answer_id != answer_id:
            await self.sender.deliver(
                interaction.response.send_message(ALREADY, ephemeral=True), what="refresh notice"
            )
            return
        wait = self.cooldown.retry_after(interaction.user.id)
        if wait:
            await self.sender.deliver(
                interaction.response.send_message(cooldown_notice(wait), ephemeral=True),
                what="cooldown notice",
            )
            return
        if not await self.sender.deliver(interaction.response.defer(), what="defer"):
            return
        before = Conversation(record.conversation.turns[:-1])
        result = await self.gate.guarded(self.service.converse, before, record.answer.question)
        if isinstance(result, str):
            await self.sender.deliver(
                interaction.followup.send(REFRESH_FAILED.format(reason=result), ephemeral=True),
                what="refresh failure",
            )
            return
        answer, after = result
        fresh = await self._replace(record, answer, after, message.id)
        content = render_answer(answer, show_question=True)
        view = self.answer_view(fresh) if fresh and answer.quotes else None
        channel_id = interaction.channel_id or message.channel.id
        if await self.edit_message(channel_id, message.id, content, view) != "ok":
            await self.sender.deliver(
                interaction.followup.send(
                    REFRESH_FAILED.format(reason="the message could not be edited."),
                    ephemeral=True,
                ),
                what="refresh failure",
            )

    async def _replace(
        self, old: AnswerRecord, answer: Answer, after: Conversation, message_id: int
    ) -> str | None:
        """Store the new answer as the one the message shows (same asker, same channel), so
        replies continue it and later updates mark it, not the old one; its id (None if the
        database refused: the answer goes out without buttons)."""
        record = AnswerRecord(
            new_answer_id(), old.user_hash, old.channel_id, answer, after, self.answers.now()
        )
        store = self.answers
        try:
            await asyncio.to_thread(store.save, record)
            await asyncio.to_thread(store.attach_message, record.answer_id, message_id)
        except Exception:
            log.exception("could not store the refreshed answer; it goes out without buttons")
            return None
        return record.answer_id
