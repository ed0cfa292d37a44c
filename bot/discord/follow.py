"""Followed questions on Discord: the 🔔 button, `/following`, and one message per changed answer.

When a new index generation lands (bot.index.generation_watch tells `on_generations`), every followed
question not yet checked against it is answered again by the running service, in the
conversation it was asked in: one question at a time on the bot's worker thread, paced by
`follow_pace_seconds`, so a thousand followed questions delay a user's question by one answer at
most. A question whose top passage changed gets a notice, written with the check (bot.feedback.follows);
notices are then sent as a direct message, or, when the follower's DMs are closed (403), as a
reply to the followed answer that mentions only that user. A notice whose send failed for a
passing reason (network, 5xx) stays owed and is tried again; one that cannot be delivered at all
(DMs closed and the channel gone) is dropped with a log line. Rows and notices live in SQLite,
so a generation that landed while the bot was down is checked after the restart, and a notice
recorded before a crash is sent after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import discord

from bot.answering.conversation import Conversation
from bot.discord.answer_store import AnswerRecord
from bot.discord.follow_render import (
    NOT_A_NUMBER,
    followed_notice,
    limit_notice,
    removed_notice,
    render_change,
    render_following,
)
from bot.discord.gate import Gate
from bot.discord.sender import Sender
from bot.discord.service_protocol import Service
from bot.feedback.follows import Followed, FollowLimitError, FollowStore

log = logging.getLogger(__name__)

SURFACE = "discord"
SUBSCRIBER = "followed-questions"  # its cursor in bot.index.generation_watch
RETRY_SECONDS = 60.0  # a notice that could not be sent for a passing reason is tried again
_PASSING = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)


class FollowDesk:
    def __init__(
        self,
        service: Service,
        gate: Gate,
        sender: Sender,
        client: discord.Client,
        store: FollowStore,
        pace_seconds: float,
    ) -> None:
        """`client`: the discord.py client, to open DMs and reach channels by id."""
        self.service = service
        self.gate = gate
        self.sender = sender
        self.client = client
        self.store = store
        self.pace = pace_seconds
        self._upto = 0  # the newest generation announced
        self._wake = asyncio.Event()

    # ----------------------------------------------------------------- 🔔 and /following
    async def follow(self, interaction: discord.Interaction[Any], record: AnswerRecord) -> None:
        """Follow the question `record` answered, in the conversation it was asked in."""
        turns = record.conversation.turns
        question = turns[-1].question if turns else record.answer.question
        context = Conversation(turns[:-1])
        message = interaction.message
        try:
            _, new = await asyncio.to_thread(
                self.store.follow,
                SURFACE,
                str(interaction.user.id),
                question,
                context,
                record.answer,
                channel_id=record.channel_id,
                message_id=message.id if message is not None else None,
            )
            content = followed_notice(question, new)
        except FollowLimitError as exc:
            content = limit_notice(str(exc))
        await self.sender.deliver(
            interaction.response.send_message(content, ephemeral=True), what="follow notice"
        )

    async def following(self, interaction: discord.Interaction[Any], remove: int | None) -> None:
        user = str(interaction.user.id)
        rows = await asyncio.to_thread(self.store.of, SURFACE, user)
        if remove is None:
            content = render_following(rows)
        elif not 1 <= remove <= len(rows):
            content = NOT_A_NUMBER.format(count=len(rows)) if rows else render_following(rows)
        else:
            row = rows[remove - 1]
            await asyncio.to_thread(self.store.remove, row.follow_id)
            content = removed_notice(row)
        await self.sender.deliver(
            interaction.response.send_message(content, ephemeral=True), what="/following"
        )

    # ----------------------------------------------------------------- new generations
    async def on_generations(self, after: int, upto: int) -> None:
        """A GenerationWatch handler: wake the checker (which keeps its own cursor per row),
        without holding up the watch's other subscribers."""
        self._upto = max(self._upto, upto)
        self._wake.set()

    async def run(self) -> None:
        """Check and deliver until cancelled: once at start (notices owed from before a
        restart), then on every new generation, and again later if a send failed. At start the
        served generation counts as announced: a process killed while re-answering leaves rows
        behind it, and the watch, whose cursor had already moved on, would not announce it again."""
        try:
            served = await self.gate.run_blocking(self.service.serve_latest)
            self._upto = max(self._upto, served or 0)
        except Exception as exc:
            log.warning("could not read the index generation for followed questions: %s", exc)
        while True:
            try:
                pending = await self.catch_up()
            except Exception:
                log.exception("checking followed questions failed; trying again later")
                pending = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RETRY_SECONDS if pending else None)
            self._wake.clear()

    async def catch_up(self) -> bool:
        """Answer every row due at the announced generation again, then send what is owed.
        True if a notice is still owed (a send failed for a passing reason)."""
        upto = self._upto
        due = await asyncio.to_thread(self.store.due, upto, SURFACE)
        for row in due:  # each once: a service still serving an older generation is no loop
            try:
                await self.gate.run_blocking(self.store.recheck, row, self.service.converse, upto)
            except Exception as exc:
                log.warning("could not answer followed question %d again: %s", row.follow_id, exc)
            await asyncio.sleep(self.pace)
        pending = False
        for row in await asyncio.to_thread(self.store.owed, SURFACE):
            if await self._send(row):
                await asyncio.to_thread(self.store.delivered, row.follow_id)
            else:
                pending = True
            await asyncio.sleep(self.pace)
        return pending

    async def _send(self, row: Followed) -> bool:
        """A direct message, else a reply where the answer was; False: try again later."""
        assert row.notice is not None
        user = discord.Object(int(row.follower))
        try:
            dm = await self.client.create_dm(user)
            await dm.send(render_change(row, row.notice), suppress_embeds=True)
            return True
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info(
                "cannot message follower %s directly (%s); replying in the channel", user.id, exc
            )
        except _PASSING as exc:
            log.warning("could not send a followed question's change: %s (tried again later)", exc)
            return False
        if row.channel_id is None:
            return True
        return await self._reply_in_channel(row, row.channel_id, user)

    async def _reply_in_channel(self, row: Followed, channel_id: int, user: discord.Object) -> bool:
        assert row.notice is not None
        channel = self.client.get_partial_messageable(channel_id)
        options: dict[str, Any] = {
            "suppress_embeds": True,
            # The follower, and nobody else (not the author of the message replied to).
            "allowed_mentions": discord.AllowedMentions(
                everyone=False, users=[user], roles=False, replied_user=False
            ),
        }
        if row.message_id is not None:
            options["reference"] = discord.MessageReference(
                message_id=row.message_id, channel_id=channel_id, fail_if_not_exists=False
            )
        try:
            await channel.send(render_change(row, row.notice, mention=user.id), **options)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning(
                "dropped a followed question's change for %s: no DM and channel %s refused (%s)",
                user.id,
                channel_id,
                exc,
            )
        except _PASSING as exc:
            log.warning("could not send a followed question's change: %s (tried again later)", exc)
            return False
        return True
