"""Keep secrets out of logs: the bot token, interaction tokens, anything shaped like a token."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable


class RedactingFilter(logging.Filter):
    """Removes the bot token, interaction tokens (in webhook/callback URLs and in "token" fields
    of logged payloads), and anything shaped like a Discord token from log records: at DEBUG,
    discord.py logs interaction URLs and whole gateway events."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        text = _INTERACTION_URL.sub(r"\1[redacted]", text)
        text = _TOKEN_FIELD.sub(r"\1[redacted]", text)
        return _TOKEN_SHAPE.sub("[redacted token]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_redaction(secrets: Iterable[str]) -> RedactingFilter:
    """Attach one redacting filter to every existing logger and to the root handlers.

    Logger filters clean records where they are created (so every handler, including ones added
    later, sees clean records from discord.py and quotebot); handler filters catch the rest.
    """
    redactor = RedactingFilter(secrets)
    names = [name for name in logging.root.manager.loggerDict if not name.startswith("_")]
    for name in names:
        logger = logging.getLogger(name)
        if redactor not in logger.filters:
            logger.addFilter(redactor)
    logging.getLogger().addFilter(redactor)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor


def remove_redaction(redactor: RedactingFilter) -> None:
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        if redactor in logger.filters:
            logger.removeFilter(redactor)
    logging.getLogger().removeFilter(redactor)
    for handler in logging.getLogger().handlers:
        handler.removeFilter(redactor)


_INTERACTION_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?'\"]+")
# A "token" field in a logged payload (gateway DEBUG logs print whole INTERACTION_CREATE events).
_TOKEN_FIELD = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+""")
# python-discord's TOKEN_RE: id.timestamp.hmac, each base64url.
_TOKEN_SHAPE = re.compile(r"[\w-]{10,}\.[\w-]{5,}\.[\w-]{10,}")
