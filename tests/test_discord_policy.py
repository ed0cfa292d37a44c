"""The policy alone (no Discord): allowlists, threads as their channel, who may re-index."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.config import DiscordSettings
from bot.discord.policy import Policy
from bot.discord.sender import RefusedChannels


def interaction(
    guild_id: int | None, channel_id: int | None, user_id: int = 1, manage_guild: bool = False
) -> Any:
    return SimpleNamespace(
        guild_id=guild_id,
        channel_id=channel_id,
        user=SimpleNamespace(id=user_id),
        permissions=SimpleNamespace(manage_guild=manage_guild),
    )


def policy(threads: dict[int, int] | None = None, **settings: Any) -> Policy:
    return Policy(
        DiscordSettings(**settings), {} if threads is None else threads, RefusedChannels()
    )


def test_empty_allowlists_allow_everything() -> None:
    assert policy().allowed(None, None)
    assert policy().interaction_allowed(interaction(5, 6))


def test_guild_and_channel_allowlists() -> None:
    rules = policy(guild_ids=(10,), channel_ids=(20,))
    assert rules.allowed(10, 20)
    assert not rules.allowed(11, 20)
    assert not rules.allowed(10, 21)
    assert not rules.allowed(None, 20)


def test_a_thread_the_bot_opened_counts_as_its_channel() -> None:
    threads: dict[int, int] = {}
    rules = policy(threads, channel_ids=(20,))
    assert not rules.interaction_allowed(interaction(10, 99))
    threads[99] = 20  # opened later: the policy sees the same map
    assert rules.where(99) == 20 and rules.where(None) is None and rules.where(7) == 7
    assert rules.interaction_allowed(interaction(10, 99))


def test_reindex_needs_manage_server_in_a_guild_or_an_admin_listing() -> None:
    rules = policy(admin_user_ids=(42,))
    assert rules.may_reindex(interaction(None, 1, user_id=42))
    assert rules.may_reindex(interaction(10, 1, manage_guild=True))
    assert not rules.may_reindex(interaction(10, 1))
    assert not rules.may_reindex(interaction(None, 1, manage_guild=True))


def test_a_refused_channel_is_reported_from_the_shared_record() -> None:
    refusals = RefusedChannels()
    rules = Policy(DiscordSettings(), {}, refusals)
    assert not rules.channel_refused(7)
    refusals.note(7)
    assert rules.channel_refused(7)
