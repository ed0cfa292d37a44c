"""Keep secrets out of messages, logs and tracebacks: database passwords in every form libpq
accepts, the bot token, interaction tokens, anything shaped like a token.

`redact()` is the one function every surface uses: error lines, `--debug` tracebacks (the CLI
prints them itself, redacted) and log records (through `RedactingFilter`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

MASK = "***"  # database passwords: `postgresql://bot:***@db/kb` still reads as a URL
TOKEN_MASK = "[redacted]"
# Environment variables whose values are secrets wherever they show up.
SECRET_ENVIRONMENT = ("QUOTEBOT_DATABASE_URL", "PGPASSWORD", "DISCORD_TOKEN")
# Shorter known secrets are not replaced wherever they occur (a password "db" would mangle
# every message); the patterns below still remove them from every place libpq reads them.
MIN_LITERAL = 4


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with passwords and tokens replaced.

    Without `secrets` it still removes every password a connection string can carry: the URL
    user-info (`postgres://user:pw@host`, any scheme), `?password=` / `&sslpassword=` query
    parameters (also with URL-encoded names), keyword/value pairs (`password=pw`,
    `password='a b'`, `password='it\\'s'`), `PGPASSWORD=...` and `'password': '...'` in dict
    reprs. `secrets` (a database URL, a token) are also removed literally wherever they occur, as
    written and URL-encoded; for a connection string that means its password alone.
    """
    for secret in sorted(_literals(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m[1]}:{MASK}@", text)
    text = _QUERY_PARAM.sub(_mask_query_password, text)
    text = _KEYWORD.sub(lambda m: f"{m[1]}{MASK}", text)
    text = _ENV_ASSIGNMENT.sub(lambda m: f"{m[1]}{MASK}", text)
    text = _DICT_ENTRY.sub(lambda m: f"{m[1]}{m[2]}{MASK}{m[2]}", text)
    text = _INTERACTION_URL.sub(rf"\1{TOKEN_MASK}", text)
    text = _TOKEN_FIELD.sub(rf"\1{TOKEN_MASK}", text)
    return _TOKEN_SHAPE.sub("[redacted token]", text)


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets quotebot reads from the environment (values only, never logged)."""
    source = os.environ if environ is None else environ
    return [source[name] for name in SECRET_ENVIRONMENT if source.get(name, "").strip()]


def _literals(secrets: Iterable[str]) -> set[str]:
    """Each secret, or for a connection string its passwords, in the spellings a message may
    use: as written, decoded, URL-encoded, and as libpq quotes it."""
    found: set[str] = set()
    for secret in secrets:
        secret = secret.strip()
        if not secret:
            continue
        passwords = connection_passwords(secret)
        conninfo = bool(passwords) or "://" in secret or _parse_conninfo(secret) is not None
        for value in passwords if conninfo else [secret]:
            found |= {value, unquote(value), quote(value, safe=""), _libpq_quoted(value)}
    return {value for value in found if len(value) >= MIN_LITERAL}


def connection_passwords(conninfo: str) -> list[str]:
    """Passwords in a connection string, as libpq reads them (psycopg's parser when it can parse
    the string, the patterns of `redact()` otherwise, e.g. for an unknown scheme)."""
    parsed = _parse_conninfo(conninfo) or {}
    found = [str(parsed[key]) for key in ("password", "sslpassword") if parsed.get(key)]
    found += [unquote(m[2]) for m in _URL_USERINFO.finditer(conninfo)]
    found += [unquote(m[3]) for m in _QUERY_PARAM.finditer(conninfo) if _is_password(m[2])]
    found += [_libpq_unquoted(m[2]) for m in _KEYWORD.finditer(conninfo)]
    return [value for value in dict.fromkeys(found) if value]


def _parse_conninfo(text: str) -> dict[str, object] | None:
    """libpq's own reading of a connection string (via psycopg), None when it is not one."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # the files store does not need psycopg
        return None
    try:
        return dict(conninfo_to_dict(text))
    except Exception:  # any parse failure means "not a connection string"
        return None


def _is_password(name: str) -> bool:
    return unquote(name).lower() in {"password", "sslpassword"}


def _mask_query_password(match: re.Match[str]) -> str:
    return f"{match[1]}{match[2]}={MASK}" if _is_password(match[2]) else match[0]


def _libpq_quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _libpq_unquoted(value: str) -> str:
    if value.startswith("'"):
        value = value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:]
    return re.sub(r"\\(.)", r"\1", value)


# scheme://user:password@ (libpq requires @ and / inside the password to be %-encoded).
_URL_USERINFO = re.compile(r"([a-zA-Z][\w+.-]*://[^\s:/@'\"]*):([^\s@/]*)@")
# ?password=... or &password=..., names possibly %-encoded (libpq decodes them).
_QUERY_PARAM = re.compile(r"([?&])([^\s=&#?'\"]+)=([^\s&#]*)")
# keyword/value: password=pw, password = 'a b', password='it\'s' (backslash escapes, libpq rules);
# an unterminated quote runs to the end of the line.
_KEYWORD = re.compile(
    r"""((?<![?&])\b(?:ssl)?password\s*=\s*)('(?:[^'\\\n]|\\.)*'?|(?:[^\s\\]|\\.)+)""",
    re.IGNORECASE,
)
_ENV_ASSIGNMENT = re.compile(
    r"""(\bPGPASSWORD\s*[=:]\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)"""
)
_DICT_ENTRY = re.compile(r"""(['"](?:ssl)?password['"]\s*:\s*)(['"])(?:\\.|(?!\2).)*\2""")
_INTERACTION_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?'\"]+")
# A "token" field in a logged payload (gateway DEBUG logs print whole INTERACTION_CREATE events).
_TOKEN_FIELD = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+""")
# python-discord's TOKEN_RE: id.timestamp.hmac, each base64url.
_TOKEN_SHAPE = re.compile(r"[\w-]{10,}\.[\w-]{5,}\.[\w-]{10,}")


class RedactingFilter(logging.Filter):
    """Runs `redact()` over log records: at DEBUG, discord.py logs interaction URLs and whole
    gateway events, and psycopg's pool logs connection errors that may quote the URL."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:  # a token too short for redact()'s literal rule
            text = text.replace(secret, TOKEN_MASK)
        return redact(text, self.secrets)

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
