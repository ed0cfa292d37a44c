"""`/changes [since]`: what changed in the documents, as pages with ◀ / ▶ buttons when long.

The buttons carry the generation range and the page in their custom_id (`qbc:<after>:<upto>:
<page>`), so a click rebuilds its page from the changelog: nothing is held in memory, and the
buttons keep working after a restart, as long as the changelog keeps those entries.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

from bot.discord.changes_pages import render_change_pages
from bot.discord.gate import Gate
from bot.discord.policy import Policy
from bot.discord.render import CONTENT_BUDGET, NOT_HERE
from bot.discord.sender import Sender
from bot.discord.service_protocol import Service
from bot.discord.text import shorten
from bot.errors import QuotebotError
from bot.index.changelog import ChangeEntry, Since, parse_since, select

CUSTOM_ID = re.compile(r"qbc:(?P<after>\d{1,18}):(?P<upto>\d{1,18}):(?P<page>\d{1,4})")
NOTHING = "No changes to the documents {what}."
GONE = "Those changes are no longer in the changelog; use /changes again."


def _nothing(since: Since) -> str:
    if since.generation is not None:
        return NOTHING.format(what=f"after generation {since.generation}")
    if since.time is not None:
        return NOTHING.format(what=f"since {since.time:%Y-%m-%d %H:%M} UTC")
    return NOTHING.format(what="are recorded")


def in_range(entries: list[ChangeEntry], after: int, upto: int) -> list[ChangeEntry]:
    return [e for e in entries if after < e.generation <= upto]


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=CUSTOM_ID.pattern,
):
    """◀ or ▶ under a /changes page: shows page `page` of generations (`after`, `upto`]."""

    def __init__(self, after: int, upto: int, page: int, label: str, disabled: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"qbc:{after}:{upto}:{page}",
                disabled=disabled,
            )
        )
        self.after, self.upto, self.page = after, upto, page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PageButton:
        return cls(int(match["after"]), int(match["upto"]), int(match["page"]), "", False)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError("a PageButton bound to the pages handles clicks (page_button)")


OnPage = Callable[[discord.Interaction[Any], int, int, int], Awaitable[None]]


def page_button(on_click: OnPage) -> type[PageButton]:
    """PageButton whose clicks go to `on_click(interaction, after, upto, page)` (one class per
    `ChangesPages`, as `bot.discord.chat.answer_button`)."""

    class Bound(PageButton, template=CUSTOM_ID.pattern):
        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await on_click(interaction, self.after, self.upto, self.page)

    return Bound


def pages_view(
    button: type[PageButton], after: int, upto: int, page: int, count: int
) -> discord.ui.View:
    """◀, `page/count` (a label, never clickable) and ▶; custom_ids are distinct on every page."""
    view = discord.ui.View(timeout=None)
    view.add_item(button(after, upto, max(page - 1, 0), "◀", page == 0))
    view.add_item(
        discord.ui.Button(
            label=f"{page + 1}/{count}",
            style=discord.ButtonStyle.secondary,
            custom_id=f"qbc-at:{after}:{upto}:{page}",
            disabled=True,
        )
    )
    view.add_item(button(after, upto, min(page + 1, count - 1), "▶", page == count - 1))
    return view


def first_page(
    button: type[PageButton], entries: list[ChangeEntry], since: Since
) -> tuple[str, dict[str, Any]]:
    """The first page's content, and the view to send with it when there is more than one."""
    chosen = select(entries, since)
    pages = render_change_pages(chosen)
    if not pages:
        return _nothing(since), {}
    if len(pages) == 1:
        return pages[0], {}
    after = min(e.generation for e in chosen) - 1
    upto = max(e.generation for e in chosen)
    return pages[0], {"view": pages_view(button, after, upto, 0, len(pages))}


class ChangesPages:
    """`/changes` and its ◀ / ▶ buttons, over the service, the gate, the sender and the policy."""

    def __init__(self, service: Service, gate: Gate, sender: Sender, policy: Policy) -> None:
        self.service = service
        self.gate = gate
        self.sender = sender
        self.policy = policy
        self.button = page_button(self.on_page)
        self.command = self._command()

    def _command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="changes", description="What changed in the documents lately.")
        @app_commands.describe(
            since=(
                "A generation (7), a date (2026-12-01) or how far back (12h, 3d, 2w); "
                "default: all kept"
            )
        )
        @app_commands.allowed_installs(guilds=True, users=False)
        @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
        async def changes_command(
            interaction: discord.Interaction[Any],
            since: app_commands.Range[str, 1, 40] | None = None,
        ) -> None:
            await self.changes(interaction, since)

        return changes_command

    async def changes(self, interaction: discord.Interaction[Any], since: str | None) -> None:
        if not await self.sender.deliver(
            interaction.response.defer(thinking=True, ephemeral=True), what="defer"
        ):
            return
        view: dict[str, Any] = {}
        try:
            wanted = parse_since(since, datetime.now(UTC))
            entries = await self.gate.run_blocking(self.service.changes)
            content, view = first_page(self.button, entries, wanted)
        except QuotebotError as exc:
            content = shorten(f"Sorry: {exc}", CONTENT_BUDGET)
        await self.sender.deliver(
            interaction.followup.send(content, ephemeral=True, suppress_embeds=True, **view),
            what="changes follow-up",
        )

    async def on_page(
        self, interaction: discord.Interaction[Any], after: int, upto: int, wanted: int
    ) -> None:
        """◀ or ▶ clicked: page `wanted` of generations (`after`, `upto`], rebuilt from the
        changelog."""
        if not self.policy.interaction_allowed(interaction):  # the allowlist may have changed
            await self.sender.deliver(
                interaction.response.send_message(NOT_HERE, ephemeral=True), what="refusal"
            )
            return
        try:
            entries = in_range(await self.gate.run_blocking(self.service.changes), after, upto)
        except QuotebotError as exc:
            await self.sender.deliver(
                interaction.response.send_message(
                    shorten(f"Sorry: {exc}", CONTENT_BUDGET), ephemeral=True
                ),
                what="changes page failure",
            )
            return
        pages = render_change_pages(entries)
        if not pages:
            await self.sender.deliver(
                interaction.response.send_message(GONE, ephemeral=True), what="changes gone"
            )
            return
        page = min(wanted, len(pages) - 1)
        await self.sender.deliver(
            interaction.response.edit_message(
                content=pages[page],
                view=pages_view(self.button, after, upto, page, len(pages)),
            ),
            what="changes page",
        )
