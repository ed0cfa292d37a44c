"""Run `bot.discord_bot.run` against the local Discord stand-in, in a child process (tests only).

    python tests/discord_stub_main.py API_BASE GATEWAY_URL KNOWLEDGE_DIR INDEX_DIR

The production entry point minus argparse, with the fake embedder so the child starts in about a
second instead of loading torch. Prints errors the way the CLI does (one line, exit status 2).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    api, gateway, knowledge, index = argv
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

    from bot.config import load_settings
    from bot.discord_bot import run
    from bot.errors import QuotebotError
    from bot.service import QuoteService
    from tests.fakes import FakeEmbedder

    settings = load_settings(
        None, {"knowledge": {"path": Path(knowledge)}, "index": {"dir": Path(index)}}
    )
    service = QuoteService(settings, embedder=FakeEmbedder(), on_notice=lambda message: None)
    try:
        return run(service, settings.discord)
    except QuotebotError as exc:
        print(f"quotebot: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
