"""`python -m bot` is the same as the `quotebot` console script."""

from bot.cli import main

raise SystemExit(main())
