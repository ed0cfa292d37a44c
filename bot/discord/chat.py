"""Conversations on Discord: follow-ups, replies, threads, answer buttons and votes.

A conversation is kept per user and per channel or thread (`ChatSessions`), so two people in
one channel never share context. Every answer that quotes something gets an answer id and four
buttons (and 🔔, bot.discord.follow) whose `custom_id`s are `qb:<action>:<answer id>`; the state they need (the answer, the
conversation after it, a salted hash of who asked) is stored in SQLite (`ChatStore`), and the
buttons are a `DynamicItem` registered in `setup_hook`, so they keep working after a restart.
Unknown or expired ids get a polite ephemeral notice instead of Discord's "interaction failed".

Clicking More context / Next passage continues the asker's conversation in public; anyone else
who clicks gets the result privately (ephemeral) and nobody's conversation changes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.answering.compose import Answer
from bot.answering.conversation import Conversation
from bot.discord.answer_store import AnswerRecord, ChatStore, new_answer_id
from bot.discord.cooldown import Cooldown
from bot.discord.follow import FollowDesk
from bot.discord.gate import Gate
from bot.discord.policy import Policy
from bot.discord.render import NOT_HERE, cooldown_notice, render_answer
from bot.discord.sender import Sender
from bot.discord.service_protocol import Service
from bot.discord.sessions import ChatKey, ChatSessions, next_passage
from bot.feedback.votes import DOWN, UP, FeedbackStore, Vote
from bot.shared.text import shorten_line

log = logging.getLogger(__name__)

MORE_QUESTION = "tell me more"
CUSTOM_ID = re.compile(r"qb:(?P<action>more|next|up|down|follow):(?P<answer>[0-9a-f]{16})")
_BUTTONS = {
    "more": ("More context", None, discord.ButtonStyle.primary),
    "next": ("Next passage", None, discord.ButtonStyle.secondary),
    "up": (None, "👍", discord.ButtonStyle.secondary),
    "down": (None, "👎", discord.ButtonStyle.secondary),
    "follow": (None, "🔔", discord.ButtonStyle.secondary),  # bot.discord.follow
}
EXPIRED = (
    "These buttons have expired, or I no longer know that answer. Ask again with /ask "
    "or by mentioning me."
)
THANKS = {UP: "Thanks! Noted: 👍 for this answer.", DOWN: "Thanks! Noted: 👎 for this answer."}
VOTE_FAILED = "Sorry, I could not record your vote; the error was logged."
THREAD_HINT = (
    "I can only read messages that mention me: Discord does not give bots the text of other "
    "messages, even in threads they opened. Mention me (@quotebot …), reply to one of my "
    "answers with the mention on, or use /ask here."
)
NO_TEXT = "That message has no text I can ask about."


@dataclass(frozen=True, slots=True)
class Reply:
    content: str
    answer_id: str | None = None  # set when the answer quotes something: it gets buttons
    conversation: Conversation | None = None


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=CUSTOM_ID.pattern,
):
    """One of the four buttons under an answer; everything it needs is in its custom_id."""

    def __init__(self, action: str, answer_id: str) -> None:
        label, emoji, style = _BUTTONS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"qb:{action}:{answer_id}"
            )
        )
        self.action = action
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AnswerButton:
        return cls(match["action"], match["answer"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError("an AnswerButton bound to a desk handles clicks (answer_button)")


OnAnswerButton = Callable[[discord.Interaction[Any], str, str], Awaitable[None]]


def answer_button(on_click: OnAnswerButton) -> type[AnswerButton]:
    """AnswerButton whose clicks go to `on_click(interaction, action, answer_id)`: one class per
    desk, registered with the client and used in every view the desk sends, so a click finds its
    desk without looking it up through `interaction.client`."""

    class Bound(AnswerButton, template=CUSTOM_ID.pattern):
        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await on_click(interaction, self.action, self.answer_id)

    return Bound


def answer_view(button: type[AnswerButton], answer_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in _BUTTONS:
        view.add_item(button(action, answer_id))
    return view


def thread_name(question: str) -> str:
    """A thread title from the question: one line, at most 90 characters, cut between words.
    Channel names are shown literally (no markdown, no mentions), so no escaping."""
    return shorten_line(question, 90, word_cut_after=40) or "question"


class ChatDesk:
    """The conversation side of the bot: sessions, stored answers, buttons and votes."""

    def __init__(
        self,
        service: Service,
        gate: Gate,
        sender: Sender,
        policy: Policy,
        cooldown: Cooldown,
        sessions: ChatSessions,
        store: ChatStore,
        feedback: FeedbackStore,
        follows: FollowDesk,
        *,
        threads: dict[int, int],
        answer_in_thread: bool,
    ) -> None:
        """`threads`: the threads the bot opened → their channel, shared with the policy (filled
        in setup_hook, then as threads are opened)."""
        self.service = service
        self.gate = gate
        self.sender = sender
        self.policy = policy
        self.cooldown = cooldown
        self.sessions = sessions
        self.store = store
        self.feedback = feedback
        self.follows = follows
        self.threads = threads
        self.answer_in_thread = answer_in_thread
        self.button = answer_button(self.on_button)
        self._hinted: set[tuple[int, int]] = set()  # (channel, user) told about the intent

    async def _cooling_down(self, interaction: discord.Interaction[Any]) -> bool:
        """Refuse politely (only the asker sees it) while the user's cooldown runs."""
        wait = self.cooldown.retry_after(interaction.user.id)
        if wait:
            await self.sender.deliver(
                interaction.response.send_message(cooldown_notice(wait), ephemeral=True),
                what="cooldown notice",
            )
        return bool(wait)

    def view(self, answer_id: str) -> discord.ui.View:
        """The buttons under an answer, bound to this desk."""
        return answer_view(self.button, answer_id)

    def view_kwargs(self, reply: Reply) -> dict[str, Any]:
        return {"view": self.view(reply.answer_id)} if reply.answer_id else {}

    async def reply_content(self, question: str, *, show_question: bool) -> str:
        """What to send for a standalone question: the answer, or a polite reason why not."""
        result = await self.gate.guarded(self.service.ask, question)
        if isinstance(result, str):
            return result
        return render_answer(result, show_question=show_question)

    def user_hash(self, user_id: int) -> str:
        return self.feedback.user_hash("discord", user_id)

    # ----------------------------------------------------------------- answering
    async def ask(
        self,
        key: ChatKey,
        question: str,
        *,
        show_question: bool,
        base: Conversation | None = None,
    ) -> Reply:
        """Answer `question` as the next turn of `base` (default: the live conversation under
        `key`), make the result the live conversation under `key`, and store it for buttons."""
        conversation = base if base is not None else self.sessions.get(key)
        result = await self.gate.guarded(self.service.converse, conversation, question)
        if isinstance(result, str):
            return Reply(result)
        answer, after = result
        self.sessions.put(key, after)
        answer_id = await self.remember(key, answer, after)
        return Reply(render_answer(answer, show_question=show_question), answer_id, after)

    async def remember(self, key: ChatKey, answer: Answer, after: Conversation) -> str | None:
        """Store what the buttons under `answer` need; None (no buttons) if nothing was quoted
        or the database refused."""
        if not answer.quotes:
            return None
        record = AnswerRecord(
            new_answer_id(),
            self.user_hash(key.user_id),
            key.channel_id,
            answer,
            after,
            self.store.now(),
        )
        try:
            await asyncio.to_thread(self.store.save, record)
        except Exception:
            log.exception("could not store answer state; the answer goes out without buttons")
            return None
        return record.answer_id

    async def attach(self, answer_id: str | None, message: object) -> None:
        """Map the sent message to its answer, so replies to it continue its conversation."""
        message_id = getattr(message, "id", None)
        if answer_id is None or not isinstance(message_id, int):
            return
        try:
            await asyncio.to_thread(self.store.attach_message, answer_id, message_id)
        except Exception:
            log.exception("could not store the message id of an answer")

    async def replied_conversation(self, message: discord.Message) -> Conversation | None:
        """The conversation of the answer `message` replies to, if it is one of ours."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        record = await asyncio.to_thread(self.store.by_message, reference.message_id)
        return record.conversation if record else None

    async def answer_interaction(
        self, interaction: discord.Interaction[Any], question: str
    ) -> None:
        """/ask and "Ask quotebot": cooldown, defer, answer in the asker's conversation here
        (or in a new thread, in thread mode), send with buttons."""
        if await self._cooling_down(interaction):
            return
        # Defer before anything slow: Discord invalidates the interaction after 3 seconds.
        if not await self.sender.deliver(interaction.response.defer(thinking=True), what="defer"):
            return
        channel = interaction.channel
        channel_id = interaction.channel_id or 0
        open_thread = self.answer_in_thread and isinstance(channel, discord.TextChannel)
        key = ChatKey(interaction.user.id, channel_id)
        reply = await self.ask(
            key, question, show_question=True, base=Conversation() if open_thread else None
        )
        message = await self.sender.sent(
            interaction.followup.send(
                reply.content, suppress_embeds=True, wait=True, **self.view_kwargs(reply)
            ),
            what="answer follow-up",
        )
        await self.attach(reply.answer_id, message)
        if open_thread and message is not None and reply.conversation is not None:
            assert isinstance(channel, discord.TextChannel)
            thread = await self.sender.sent(
                channel.create_thread(name=thread_name(question), message=message),
                what=f"thread in channel {channel_id}",
                channel_id=channel_id,
            )
            if thread is not None:
                await self.add_thread(thread.id, channel_id)
                self.sessions.put(ChatKey(interaction.user.id, thread.id), reply.conversation)

    async def add_thread(self, thread_id: int, parent_id: int) -> None:
        self.threads[thread_id] = parent_id
        try:
            await asyncio.to_thread(self.store.add_thread, thread_id, parent_id)
        except Exception:
            log.exception("could not store a thread id")

    async def in_thread_first(self, message: discord.Message, question: str) -> bool:
        """Thread mode, a question in a channel: open a thread on it and answer there as a
        fresh conversation. False if no thread could be opened (the caller replies inline)."""
        thread = await self.sender.sent(
            message.create_thread(name=thread_name(question)),
            what=f"thread in channel {message.channel.id}",
            channel_id=message.channel.id,
        )
        if thread is None:
            return False
        await self.add_thread(thread.id, message.channel.id)
        key = ChatKey(message.author.id, thread.id)
        reply = await self.ask(key, question, show_question=False, base=Conversation())
        sent = await self.sender.sent(
            thread.send(reply.content, suppress_embeds=True, **self.view_kwargs(reply)),
            what=f"answer in thread {thread.id}",
            channel_id=thread.id,
        )
        await self.attach(reply.answer_id, sent)
        return True

    async def unreadable(self, message: discord.Message) -> None:
        """A message in our thread, or a reply to our answer, that does not mention us: Discord
        sends bots its text only with the privileged message-content intent, which we do not
        request. Say so, once per user and channel, rather than ignore them silently."""
        key = (message.channel.id, message.author.id)
        if key in self._hinted:
            return
        self._hinted.add(key)
        await self.sender.send_reply(message, THREAD_HINT)

    # ----------------------------------------------------------------- buttons
    async def on_button(
        self, interaction: discord.Interaction[Any], action: str, answer_id: str
    ) -> None:
        if not self.policy.interaction_allowed(interaction):
            await self.sender.deliver(
                interaction.response.send_message(NOT_HERE, ephemeral=True), what="refusal"
            )
            return
        record = await asyncio.to_thread(self.store.get, answer_id)
        if record is None:
            await self.sender.deliver(
                interaction.response.send_message(EXPIRED, ephemeral=True), what="expired notice"
            )
            return
        if action in ("up", "down"):
            await self._vote(interaction, record, UP if action == "up" else DOWN)
            return
        if action == "follow":
            await self.follows.follow(interaction, record)
            return
        if await self._cooling_down(interaction):
            return
        owner = self.user_hash(interaction.user.id) == record.user_hash
        if not await self.sender.deliver(
            interaction.response.defer(thinking=True, ephemeral=not owner), what="defer"
        ):
            return
        result = await self._widen(action, record.conversation)
        if isinstance(result, str):
            reply = Reply(result)
        elif not owner:  # someone else's answer: shown to them only, nobody's state changes
            reply = Reply(render_answer(result[0]))
        else:
            answer, after = result
            key = ChatKey(interaction.user.id, record.channel_id)
            self.sessions.put(key, after)
            reply = Reply(render_answer(answer), await self.remember(key, answer, after), after)
        message = await self.sender.sent(
            interaction.followup.send(
                reply.content,
                suppress_embeds=True,
                wait=True,
                ephemeral=not owner,
                **self.view_kwargs(reply),
            ),
            what=f"{action} follow-up",
        )
        await self.attach(reply.answer_id, message)

    async def _widen(
        self, action: str, conversation: Conversation
    ) -> tuple[Answer, Conversation] | str:
        if action == "more":
            return await self.gate.guarded(self.service.converse, conversation, MORE_QUESTION)
        last = conversation.last
        if last is None:
            return EXPIRED
        ranked = await self.gate.guarded(self.service.ranked_quotes, last.query, 10)
        if isinstance(ranked, str):
            return ranked
        answer, turn = next_passage(conversation, ranked)
        return answer, conversation.add(turn)

    async def _vote(
        self, interaction: discord.Interaction[Any], record: AnswerRecord, vote: int
    ) -> None:
        feedback = self.feedback
        row = Vote.on(
            record.answer,
            answer_id=record.answer_id,
            user_hash=self.user_hash(interaction.user.id),
            surface="discord",
            vote=vote,
            now=feedback.now(),
        )
        try:
            await asyncio.to_thread(feedback.record, row)
            notice = THANKS[vote]
        except Exception:
            log.exception("could not record a vote")
            notice = VOTE_FAILED
        # Acknowledged only after the vote is committed (and fsynced): "noted" means noted.
        await self.sender.deliver(
            interaction.response.send_message(notice, ephemeral=True), what="vote notice"
        )
