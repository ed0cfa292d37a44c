"""Run `bot.discord.client.run` against the local Discord stand-in, in a child process (tests only).

    python tests/discord_stub_main.py API_BASE GATEWAY_URL KNOWLEDGE_DIR INDEX_DIR [FLAG ...]

The production command line (`quotebot --knowledge K --index-dir I discord FLAG ...`) with the
fake embedder, so the child starts in about a second instead of loading torch.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    api, gateway, knowledge, index, *flags = argv
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

    from bot.cli import compose_service
    from bot.cli import main as quotebot
    from bot.config import Settings
    from bot.service import QuoteService
    from tests.fakes import FakeEmbedder

    def fake_service(settings: Settings) -> QuoteService:
        return compose_service(settings, embedder=FakeEmbedder(), on_notice=lambda message: None)

    args = ["--knowledge", knowledge, "--index-dir", index, "discord", *flags]
    return quotebot(args, service_factory=fake_service)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
