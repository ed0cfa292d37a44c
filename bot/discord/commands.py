"""The slash commands: /ask, /sources, /changes, /following and /reindex, and "Ask quotebot" on a
message: closures over the objects they use (the service, the gate, the sender, the policy, the
chat and follow desks, the /changes pages), built by `build` and added to the command tree by
the client. Nothing is looked up through `interaction.client`.

Annotations stay strings; discord.py resolves the option parameters' from this module's globals,
so they name only `discord`, `app_commands` and builtins.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord.changes import ChangesPages
from bot.discord.chat import NO_TEXT, ChatDesk
from bot.discord.follow import FollowDesk
from bot.discord.gate import Gate
from bot.discord.policy import Policy
from bot.discord.render import CONTENT_BUDGET, render_report, render_sources
from bot.discord.sender import Sender
from bot.discord.service_protocol import Service
from bot.discord.text import shorten, strip_mentions
from bot.errors import QuotebotError

log = logging.getLogger(__name__)
MAX_QUESTION = 2000  # as /ask's Range

AnyCommand = app_commands.Command[Any, Any, None] | app_commands.ContextMenu


def build(
    service: Service,
    gate: Gate,
    sender: Sender,
    policy: Policy,
    chat: ChatDesk,
    follows: FollowDesk,
    changes: ChangesPages,
    client: discord.Client,
) -> tuple[AnyCommand, ...]:
    """Every command, in the order they are added to the tree. `client`: the discord.py client,
    whose logged-in user "Ask quotebot" strips from a message's text."""
    reindexing = asyncio.Lock()  # one /reindex at a time

    @app_commands.command(
        name="ask", description="Ask a question; the answer quotes the documents."
    )
    @app_commands.describe(question="What you want to know")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    async def ask_command(
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, 2000],
    ) -> None:
        """The next turn of the asker's conversation in this channel or thread."""
        await chat.answer_interaction(interaction, question)

    @app_commands.context_menu(name="Ask quotebot")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    async def ask_about_message(
        interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Right-click a message → Apps → Ask quotebot: that message's text as a question.
        Discord includes the text of the target message in the interaction, with or without the
        message-content intent."""
        me = client.user
        question = strip_mentions(message.content, me.id if me is not None else None)
        question = question[:MAX_QUESTION]
        if not question:
            await sender.deliver(
                interaction.response.send_message(NO_TEXT, ephemeral=True), what="no-text notice"
            )
            return
        await chat.answer_interaction(interaction, question)

    @app_commands.command(name="sources", description="List the documents I quote from.")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    async def sources_command(interaction: discord.Interaction[Any]) -> None:
        if not await sender.deliver(
            interaction.response.defer(thinking=True, ephemeral=True), what="defer"
        ):
            return
        try:
            records = await gate.run_blocking(service.sources)
            content = render_sources(records)
        except QuotebotError as exc:
            content = shorten(f"Sorry: {exc}", CONTENT_BUDGET)
        await sender.deliver(
            interaction.followup.send(content, ephemeral=True, suppress_embeds=True),
            what="sources follow-up",
        )

    @app_commands.command(
        name="reindex", description="Bring the index up to date with the documents."
    )
    @app_commands.default_permissions(manage_guild=True)  # a hint for Discord's UI; checked below
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    async def reindex_command(interaction: discord.Interaction[Any]) -> None:
        if not policy.may_reindex(interaction):
            await sender.deliver(
                interaction.response.send_message(
                    "Only members with the Manage Server permission (or listed admins) can "
                    "re-index.",
                    ephemeral=True,
                ),
                what="permission notice",
            )
            return
        if reindexing.locked():
            await sender.deliver(
                interaction.response.send_message("A re-index is already running.", ephemeral=True),
                what="busy notice",
            )
            return
        async with reindexing:
            if not await sender.deliver(
                interaction.response.defer(thinking=True, ephemeral=True), what="defer"
            ):
                return
            try:
                report = await gate.run_blocking(service.refresh)
                content = render_report(report)
                log.info(
                    "re-indexed on request of user %s: %s", interaction.user.id, report.summary()
                )
            except QuotebotError as exc:
                content = shorten(f"Re-indexing failed: {exc}", CONTENT_BUDGET)
            await sender.deliver(
                interaction.followup.send(content, ephemeral=True), what="reindex follow-up"
            )

    @app_commands.command(name="following", description="The questions you follow (🔔); stop one.")
    @app_commands.describe(remove="Stop following this one: its number in the list")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    async def following_command(
        interaction: discord.Interaction[Any],
        remove: app_commands.Range[int, 1, 1000] | None = None,
    ) -> None:
        """Listed privately; `remove:N` stops following number N (bot.discord.follow)."""
        await follows.following(interaction, remove)

    return (
        ask_command,
        sources_command,
        changes.command,
        following_command,
        reindex_command,
        ask_about_message,
    )
