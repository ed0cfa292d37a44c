"""Where questions may come from and who may re-index: the server-side checks, in one place.

Discord's own command permissions can be changed by any server admin, so the allowlists of the
settings (guilds, channels) are the checks that count; threads the bot opened count as the
channel they were opened in, so the allowlist needs no thread ids. Built alone (settings, the
thread map, the refused channels), so it is tested without Discord.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.config import DiscordSettings
from bot.discord.sender import RefusedChannels


class Policy:
    """`allowed`, `interaction_allowed`, `may_reindex`, and whether a channel refused us."""

    def __init__(
        self,
        settings: DiscordSettings,
        threads: Mapping[int, int],
        refusals: RefusedChannels,
    ) -> None:
        """`threads`: the threads the bot opened → their channel (filled as they are opened)."""
        self.settings = settings
        self.threads = threads
        self.refusals = refusals

    def allowed(self, guild_id: int | None, channel_id: int | None) -> bool:
        """The server-side allowlist. Empty lists allow everything."""
        if self.settings.guild_ids and guild_id not in self.settings.guild_ids:
            return False
        return not (self.settings.channel_ids and channel_id not in self.settings.channel_ids)

    def interaction_allowed(self, interaction: discord.Interaction[Any]) -> bool:
        return self.allowed(interaction.guild_id, self.where(interaction.channel_id))

    def where(self, channel_id: int | None) -> int | None:
        """Threads the bot opened count as the channel they were opened in."""
        if channel_id is None:
            return None
        return self.threads.get(channel_id, channel_id)

    def may_reindex(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id in self.settings.admin_user_ids:
            return True
        return interaction.guild_id is not None and interaction.permissions.manage_guild

    def channel_refused(self, channel_id: int) -> bool:
        """The channel answered a send with 403 lately: leave it alone for a while."""
        return self.refusals.refused(channel_id)
