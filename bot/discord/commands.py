"""The slash commands: /ask, /sources, /changes, /following and /reindex, each a thin call into `QuoteBot`.

Annotations stay strings (discord.py resolves only the option parameters, from this module's
globals), so `QuoteBot` is imported for type checking only and there is no import cycle.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.discord.changes import changes_command
from bot.discord.chat import NO_TEXT
from bot.discord.render import CONTENT_BUDGET, render_report, render_sources
from bot.discord.text import shorten, strip_mentions
from bot.errors import QuotebotError

if TYPE_CHECKING:
    from bot.discord.client import QuoteBot

log = logging.getLogger(__name__)
MAX_QUESTION = 2000  # as /ask's Range


@app_commands.command(name="ask", description="Ask a question; the answer quotes the documents.")
@app_commands.describe(question="What you want to know")
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
async def ask_command(
    interaction: discord.Interaction[QuoteBot],
    question: app_commands.Range[str, 1, 2000],
) -> None:
    """The next turn of the asker's conversation in this channel or thread."""
    await interaction.client.chat.answer_interaction(interaction, question)


@app_commands.context_menu(name="Ask quotebot")
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
async def ask_about_message(
    interaction: discord.Interaction[QuoteBot], message: discord.Message
) -> None:
    """Right-click a message → Apps → Ask quotebot: that message's text as a question. Discord
    includes the text of the target message in the interaction, with or without the
    message-content intent."""
    bot = interaction.client
    me = bot.user
    question = strip_mentions(message.content, me.id if me is not None else None)[:MAX_QUESTION]
    if not question:
        await bot.sender.deliver(
            interaction.response.send_message(NO_TEXT, ephemeral=True), what="no-text notice"
        )
        return
    await bot.chat.answer_interaction(interaction, question)


@app_commands.command(name="sources", description="List the documents I quote from.")
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
async def sources_command(interaction: discord.Interaction[QuoteBot]) -> None:
    bot = interaction.client
    if not await bot.sender.deliver(
        interaction.response.defer(thinking=True, ephemeral=True), what="defer"
    ):
        return
    try:
        records = await bot.gate.run_blocking(bot.service.sources)
        content = render_sources(records)
    except QuotebotError as exc:
        content = shorten(f"Sorry: {exc}", CONTENT_BUDGET)
    await bot.sender.deliver(
        interaction.followup.send(content, ephemeral=True, suppress_embeds=True),
        what="sources follow-up",
    )


@app_commands.command(name="reindex", description="Bring the index up to date with the documents.")
@app_commands.default_permissions(manage_guild=True)  # a hint for Discord's UI; checked below
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
async def reindex_command(interaction: discord.Interaction[QuoteBot]) -> None:
    bot = interaction.client
    if not bot.policy.may_reindex(interaction):
        await bot.sender.deliver(
            interaction.response.send_message(
                "Only members with the Manage Server permission (or listed admins) can re-index.",
                ephemeral=True,
            ),
            what="permission notice",
        )
        return
    if bot.reindexing.locked():
        await bot.sender.deliver(
            interaction.response.send_message("A re-index is already running.", ephemeral=True),
            what="busy notice",
        )
        return
    async with bot.reindexing:
        if not await bot.sender.deliver(
            interaction.response.defer(thinking=True, ephemeral=True), what="defer"
        ):
            return
        try:
            report = await bot.gate.run_blocking(bot.service.refresh)
            content = render_report(report)
            log.info("re-indexed on request of user %s: %s", interaction.user.id, report.summary())
        except QuotebotError as exc:
            content = shorten(f"Re-indexing failed: {exc}", CONTENT_BUDGET)
        await bot.sender.deliver(
            interaction.followup.send(content, ephemeral=True), what="reindex follow-up"
        )


@app_commands.command(name="following", description="The questions you follow (🔔); stop one.")
@app_commands.describe(remove="Stop following this one: its number in the list")
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
async def following_command(
    interaction: discord.Interaction[QuoteBot],
    remove: app_commands.Range[int, 1, 1000] | None = None,
) -> None:
    """Listed privately; `remove:N` stops following number N (bot.discord.follow)."""
    await interaction.client.follows.following(interaction, remove)


COMMANDS: tuple[app_commands.Command[Any, Any, None] | app_commands.ContextMenu, ...] = (
    ask_command,
    sources_command,
    changes_command,
    following_command,
    reindex_command,
    ask_about_message,
)
