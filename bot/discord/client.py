"""The Discord surface: `/ask`, `/sources`, `/reindex` and @mentions over the same service.

A thin adapter: it checks where a question comes from and who asks, hands the question to the
service that the REPL and the CLI use (same validation, same answers), renders the answer with
`discord_render`, and sends it. What it adds is what Discord demands:

- the interaction is deferred at once (Discord allows 3 s), the answer follows as a follow-up;
- the service runs on one worker thread, never on the event loop, bounded by a semaphore; the
  model is loaded and the index brought up to date in `setup_hook`, before the gateway connects,
  so the bot is never "ready" without being able to answer;
- `allowed_mentions=AllowedMentions.none()` on the client: every send carries `parse: []`;
- no privileged intent: Discord delivers the text of messages that mention the bot anyway;
- commands are synced only with `--sync` or when the command tree's hash changes;
- `Forbidden`/`NotFound` on send are logged once and never retried (they count towards
  Discord's invalid-request limit), and a channel that refused us is left alone for a while;
- SIGINT/SIGTERM close the client and exit 0; a rejected token or intent is one line, no retry;
- Discord unreachable at start is retried with backoff for a while, then exit 75 (`discord_connect`).

discord.py is imported at module level here, and this module is imported only by the `discord`
command, so `quotebot --help` stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import discord
from discord import app_commands
from pydantic import SecretStr

from bot.config import DiscordSettings
from bot.discord.answer_store import ChatStore
from bot.discord.changes import ChangesPages
from bot.discord.chat import CUSTOM_ID, EXPIRED, ChatDesk
from bot.discord.commands import build as build_commands
from bot.discord.connect import RetryPolicy, connect, log_in
from bot.discord.cooldown import Cooldown
from bot.discord.follow import SUBSCRIBER as FOLLOW_SUBSCRIBER
from bot.discord.follow import FollowDesk
from bot.discord.gate import Gate
from bot.discord.policy import Policy
from bot.discord.render import HINT, NOT_HERE, cooldown_notice
from bot.discord.sender import RefusedChannels, Sender
from bot.discord.service_protocol import Service
from bot.discord.sessions import ChatKey, ChatSessions
from bot.discord.stale import SUBSCRIBER as STALE_SUBSCRIBER
from bot.discord.stale import StaleDesk
from bot.discord.stale_queue import ChannelPacer, StaleQueue
from bot.discord.text import strip_mentions
from bot.discord.worker import WorkerExecutor
from bot.errors import QuotebotError
from bot.feedback.follows import FollowStore
from bot.feedback.votes import FeedbackStore
from bot.index.generation_watch import GenerationCursors, GenerationWatch
from bot.shared.atomic_write import write_atomically
from bot.shared.log_redaction import install_redaction
from bot.shared.sqlite_db import MEMORY, Database
from bot.shared.terminal_safety import log_to_stderr

log = logging.getLogger(__name__)
T = TypeVar("T")

TOKEN_ENV = "DISCORD_TOKEN"
# On SIGTERM: at most this long for discord.py to finish closing, then this long for a running
# service call; together well under the 10 s a supervisor (Docker's default) waits before SIGKILL.
CLOSE_GRACE_SECONDS = 3.0
WORKER_GRACE_SECONDS = 4.0
# Permissions the invite URL asks for: View Channels, Send Messages, Send Messages in Threads,
# Read Message History. Never Administrator (1 << 3) or Mention Everyone (1 << 17).
INVITE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 16)


class DiscordSetupError(QuotebotError):
    """The bot cannot start: missing or rejected token, or a refused intent. Never retried."""


def bot_intents() -> discord.Intents:
    """Least privilege: guilds (channel cache) and guild messages (mentions). No privileged
    intent: without message_content, Discord still sends the text of messages mentioning us."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    return intents


def invite_url(application_id: int) -> str:
    """The least-privilege invite: bot + applications.commands scopes, no admin, no @everyone."""
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope=bot+applications.commands"
        f"&permissions={INVITE_PERMISSIONS}"
    )


# ---------------------------------------------------------------------------- the client
class QuoteBot(discord.Client):
    """A discord.py client wired to a `Service`; construct it, then `serve()` it."""

    def __init__(
        self,
        service: Service,
        settings: DiscordSettings,
        *,
        sync: bool = False,
        executor: WorkerExecutor | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        feedback: FeedbackStore | None = None,
        **client_options: Any,
    ) -> None:
        """`feedback` holds votes and (in the same database) the state behind answer buttons;
        without one, both live in memory only (tests, or a bot without a data directory).
        `clock` measures cooldowns and idle conversations; `wall_clock` dates stored answers,
        which outlive the process."""
        super().__init__(
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            enable_debug_events=False,  # raw IDENTIFY payloads would carry the token
            **client_options,
        )
        self.service = service
        self.settings = settings
        self.force_sync = sync
        self.executor = executor or WorkerExecutor()
        # setup_hook began (logged in: the rest of login() is local work); READY on every shard.
        self.setup_started = False
        self.gateway_up = asyncio.Event()
        # The objects every desk and command is given: nothing reaches back into the client.
        self.cooldown = Cooldown(settings.cooldown_rate, settings.cooldown_seconds, clock)
        self.gate = Gate(
            self.executor, settings.max_concurrent_searches, settings.max_waiting_questions
        )
        refusals = RefusedChannels(clock)
        self.sender = Sender(refusals)
        threads: dict[int, int] = {}  # threads the bot opened → their channel
        self.policy = Policy(settings, threads, refusals)
        feedback = feedback or FeedbackStore(Database(MEMORY))
        track_seconds = settings.track_answers_days * 86400
        self.follows = FollowDesk(
            service,
            self.gate,
            self.sender,
            self,
            FollowStore(feedback.database, wall_clock),
            settings.follow_pace_seconds,
        )
        self.chat = ChatDesk(
            service,
            self.gate,
            self.sender,
            self.policy,
            self.cooldown,
            ChatSessions(settings.conversation_idle_minutes * 60, clock),
            ChatStore(
                feedback.database, settings.buttons_expire_hours * 3600, wall_clock, track_seconds
            ),
            feedback,
            self.follows,
            threads=threads,
            answer_in_thread=settings.answer_in_thread,
        )
        self.stale = StaleDesk(
            service,
            self.gate,
            self.sender,
            self.policy,
            self.cooldown,
            self,
            self.chat.store,
            self.chat.view,
            StaleQueue(feedback.database, wall_clock),
            ChannelPacer(settings.stale_edits_per_second, clock),
            settings.track_answers_days * 86400.0,
        )
        self.changes = ChangesPages(service, self.gate, self.sender, self.policy)
        self.tree: app_commands.CommandTree[QuoteBot] = _Tree(self, self.policy, self.sender)
        for command in build_commands(
            service,
            self.gate,
            self.sender,
            self.policy,
            self.chat,
            self.follows,
            self.changes,
            self,
        ):
            self.tree.add_command(command)
        # New generations from any writer (issue 18): stale answers marked, questions followed.
        self.generations = GenerationWatch(
            service.serve_latest,
            GenerationCursors(feedback.database),
            settings.generation_poll_seconds,
        )
        self.generations.subscribe(FOLLOW_SUBSCRIBER, self.follows.on_generations)
        self.generations.subscribe(STALE_SUBSCRIBER, self.stale.on_generations)
        self._background: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------- startup
    async def setup_hook(self) -> None:
        """Runs once, after login and before the gateway connects: index, model, commands."""
        self.setup_started = True
        report = await self.gate.run_blocking(self.service.refresh)
        log.info("index ready: %s", report.summary())
        await self.gate.run_blocking(self.service.question_vector, "warm-up")
        log.info("question encoder loaded")
        # Buttons under answers sent before a restart keep working: any component whose
        # custom_id matches a template is routed to its desk's button, whatever message it is on.
        self.add_dynamic_items(self.chat.button, self.changes.button, self.stale.button)
        self.chat.threads.update(await asyncio.to_thread(self.chat.store.threads))
        await self.sync_commands()
        self._background = [
            asyncio.create_task(self.generations.run(), name="generation-watch"),
            asyncio.create_task(self.follows.run(), name="followed-questions"),
            asyncio.create_task(self.stale.run_edits(), name="stale-edits"),
        ]

    async def sync_commands(self) -> bool:
        """Sync the command tree with Discord if asked to, or if it changed since the last sync.

        Syncing on every start (or every on_ready) spends a rate-limited call for nothing and can
        briefly make commands disappear; the hash of what was last synced, per application, is
        kept in `commands_state_file`.
        """
        fingerprint = self.commands_fingerprint()
        path = self.settings.commands_state_file
        previous = _read_state(path)
        if not self.force_sync and previous == fingerprint:
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        try:
            synced = await self.tree.sync()
        except (discord.HTTPException, OSError, aiohttp.ClientError, TimeoutError) as exc:
            # Not recorded as synced, so the next start tries again.
            log.error("could not sync slash commands: %s", exc)
            return False
        _write_state(path, fingerprint)
        log.info("synced %d slash commands", len(synced))
        return True

    def commands_fingerprint(self) -> str:
        payload = {
            "application_id": self.application_id,
            "commands": sorted(
                (command.to_dict(self.tree) for command in self.tree.get_commands()),
                key=lambda c: str(c["name"]),
            ),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def on_connect(self) -> None:
        """READY received: from here on, reconnecting after a drop is discord.py's job."""
        self.gateway_up.set()

    async def on_ready(self) -> None:
        user = self.user
        log.info("connected to Discord as %s (%s guilds)", user, len(self.guilds))

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await super().close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def reply_content(self, question: str, *, show_question: bool) -> str:
        """What to send for a standalone question (`ChatDesk.reply_content`)."""
        return await self.chat.reply_content(question, show_question=show_question)

    # ----------------------------------------------------------------- mentions
    async def on_message(self, message: discord.Message) -> None:
        """Mentions, replies to our answers, and messages in threads we opened.

        A reply continues the conversation of the answer it replies to (for the replier: if
        someone else replies, the asker's conversation is left as it was); anything else
        continues the author's conversation in this channel or thread.
        """
        me = self.user
        if me is None or message.author.bot or not self.settings.answer_mentions:
            return
        guild_id = message.guild.id if message.guild else None
        channel_id = message.channel.id
        if not self.policy.allowed(guild_id, self.policy.where(channel_id)):
            log.debug("ignoring a message outside the allowlist (channel %s)", channel_id)
            return
        if self.policy.channel_refused(channel_id):
            return
        mentioned = any(user.id == me.id for user in message.mentions)
        question = strip_mentions(message.content, me.id)
        if not mentioned:
            if channel_id in self.chat.threads or _replies_to(message, me.id):
                if not question:  # no message-content intent: Discord sent no text
                    await self.chat.unreadable(message)
                    return
            else:
                return
        if not question:
            await self.sender.send_reply(message, HINT)
            return
        wait = self.cooldown.retry_after(message.author.id)
        if wait:
            await self.sender.send_reply(message, cooldown_notice(wait))
            return
        base = await self.chat.replied_conversation(message)
        if (
            base is None
            and self.settings.answer_in_thread
            and isinstance(message.channel, discord.TextChannel)
            and await self.chat.in_thread_first(message, question)
        ):
            return
        key = ChatKey(message.author.id, channel_id)
        reply = await self.chat.ask(key, question, show_question=False, base=base)
        sent = await self.sender.sent(
            message.reply(
                reply.content,
                mention_author=False,
                suppress_embeds=True,
                **self.chat.view_kwargs(reply),
            ),
            what=f"reply in channel {channel_id}",
            channel_id=channel_id,
        )
        await self.chat.attach(reply.answer_id, sent)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """A button of ours whose custom_id no longer parses (an older format): answer politely
        instead of letting Discord show "This interaction failed"."""
        if interaction.type is not discord.InteractionType.component:
            return
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if custom_id.startswith("qb:") and not CUSTOM_ID.fullmatch(custom_id):
            await self.sender.deliver(
                interaction.response.send_message(EXPIRED, ephemeral=True), what="expired notice"
            )


class ShardedQuoteBot(QuoteBot, discord.AutoShardedClient):
    """QuoteBot over several shards in one process (`shard_ids`): one gateway connection per
    shard, but one index, one model and one worker for all of them. QuoteBot uses nothing
    single-shard (no `ws`, `latency` or `shard_id`), so the mix-in is all it takes, besides
    counting the shards that connected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards_up: set[int] = set()

    async def on_connect(self) -> None:
        """READY of one shard; the bot is connected when every shard is (on_shard_connect)."""

    async def on_shard_connect(self, shard_id: int) -> None:
        self._shards_up.add(shard_id)
        if len(self._shards_up) >= len(self.shard_ids or ()):
            self.gateway_up.set()


class _Tree(app_commands.CommandTree["QuoteBot"]):
    def __init__(self, client: QuoteBot, policy: Policy, sender: Sender) -> None:
        super().__init__(client)
        self.policy = policy
        self.sender = sender

    async def interaction_check(self, interaction: discord.Interaction[QuoteBot]) -> bool:
        """Refuse interactions outside the allowlist before any command (or retrieval) runs."""
        if self.policy.interaction_allowed(interaction):
            return True
        log.info(
            "refused /%s outside the allowlist (guild %s, channel %s)",
            interaction.command.name if interaction.command else "?",
            interaction.guild_id,
            interaction.channel_id,
        )
        await self.sender.deliver(
            interaction.response.send_message(NOT_HERE, ephemeral=True), what="refusal"
        )
        return False

    async def on_error(
        self, interaction: discord.Interaction[QuoteBot], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CheckFailure):
            return  # already answered by interaction_check
        log.error("slash command failed: %s", error, exc_info=error)


def _replies_to(message: discord.Message, user_id: int) -> bool:
    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == user_id


def _read_state(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["commands_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(path: Path, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps({"commands_sha256": fingerprint}))


# ---------------------------------------------------------------------------- running it
def read_token(environ: Mapping[str, str]) -> SecretStr:
    """The bot token, only ever from the environment."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise DiscordSetupError(
            f"no Discord bot token: set the {TOKEN_ENV} environment variable "
            "(Developer Portal → your application → Bot → Reset Token)"
        )
    return SecretStr(token)


async def serve(
    bot: QuoteBot,
    token: SecretStr,
    *,
    install_signal_handlers: bool = True,
    retry: RetryPolicy | None = None,
) -> None:
    """Run `bot` until SIGINT/SIGTERM (returns normally) or a fatal error (raises
    DiscordSetupError for a rejected token or intent: those are never retried; raises
    DiscordUnavailableError when Discord could not be reached within the retry budget)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM) if install_signal_handlers else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            runner = asyncio.create_task(start(bot, token, retry))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not runner.done() and not bot.gateway_up.is_set():
                log.info("stopping before Discord was reached")
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await runner
                return
            if not runner.done():
                log.info("stopping: closing the Discord connection")
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(runner, timeout=CLOSE_GRACE_SECONDS)
                return
            stopper.cancel()
            _raise_setup_error(runner)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def start(bot: QuoteBot, token: SecretStr, retry: RetryPolicy | None = None) -> None:
    """`bot.start(token, reconnect=True)`, with login and the first gateway connection retried
    within the budget (`retry`, by default from `bot.settings`; discord.py retries neither:
    see discord_connect)."""
    policy = retry or RetryPolicy(
        bot.settings.connect_retry_seconds, bot.settings.connect_retry_max_delay_seconds
    )
    await log_in(bot, token.get_secret_value(), policy, past_network=lambda: bot.setup_started)
    await connect(bot, policy, bot.gateway_up)


def _raise_setup_error(runner: asyncio.Task[None]) -> None:
    exc = runner.exception()
    if exc is None:
        return
    if isinstance(exc, discord.LoginFailure):
        raise DiscordSetupError(
            f"Discord rejected the bot token in {TOKEN_ENV} (LoginFailure); check it, or reset "
            "it in the Developer Portal"
        ) from None
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        raise DiscordSetupError(
            "Discord refused a privileged gateway intent (close code 4014); enable it in the "
            "Developer Portal → Bot → Privileged Gateway Intents, or do not request it"
        ) from None
    if isinstance(exc, discord.ConnectionClosed):
        raise DiscordSetupError(
            f"Discord closed the gateway connection with code {exc.code} ({exc.reason or 'no reason'})"
        ) from None
    if isinstance(exc, QuotebotError):
        raise exc
    raise DiscordSetupError(f"the Discord bot stopped: {type(exc).__name__}: {exc}") from exc


def client_for(settings: DiscordSettings) -> tuple[type[QuoteBot], dict[str, Any]]:
    """The client class and its shard options: AutoShardedClient for a range of shards in this
    process, a plain Client for one shard (`shard_id`) or none."""
    if settings.shard_ids is not None:
        return ShardedQuoteBot, {
            "shard_ids": list(settings.shard_ids),
            "shard_count": settings.shard_count,
        }
    if settings.shard_id is not None:
        return QuoteBot, {"shard_id": settings.shard_id, "shard_count": settings.shard_count}
    return QuoteBot, {}


def run(
    service: Service,
    settings: DiscordSettings,
    *,
    sync: bool = False,
    environ: Mapping[str, str] = os.environ,
    debug: bool = False,
    feedback_path: Path | None = None,
) -> int:
    """`quotebot discord`: run until stopped. Returns 0 on SIGINT/SIGTERM; raises
    DiscordSetupError (one line for the CLI) when Discord refuses us."""
    token = read_token(environ)
    # user and channel names, questions and file names reach the log: made inert on stderr
    log_to_stderr(logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.DEBUG if debug else logging.INFO)
    install_redaction([token.get_secret_value()])
    executor = WorkerExecutor()
    feedback = FeedbackStore.open(feedback_path) if feedback_path else None
    client, shards = client_for(settings)
    if shards:
        log.info("running %s", ", ".join(f"{key}={value}" for key, value in shards.items()))
    bot = client(service, settings, sync=sync, executor=executor, feedback=feedback, **shards)
    asyncio.run(serve(bot, token))
    if not executor.wait_idle(WORKER_GRACE_SECONDS):
        # An index update is still running on the worker thread; it is a daemon, and the store
        # commits atomically, so leaving now loses nothing that the next start will not redo.
        log.warning("left an index update unfinished; it will be redone on the next start")
    return 0
