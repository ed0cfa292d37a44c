"""The errors a user may see. Surfaces turn any `QuotebotError` into one line on stderr."""

from typing import ClassVar


class QuotebotError(Exception):
    """Base of every error that is the user's to fix, or at least to read."""

    # The command's exit status: 2 (bad input or configuration) unless a subclass says that a
    # supervisor should try again later (75, EX_TEMPFAIL).
    exit_status: ClassVar[int] = 2


class ConfigError(QuotebotError):
    """The configuration file or a flag is invalid (names the bad key)."""


class KnowledgeError(QuotebotError):
    """The knowledge folder is missing, not a folder, or holds no readable document."""


class IndexCorruptError(QuotebotError):
    """The saved index failed a check on load; it is never served, only rebuilt."""


class IndexLockedError(QuotebotError):
    """Another process is updating the same index."""


class ModelError(QuotebotError):
    """The embedding model could not be loaded."""


class QuestionError(QuotebotError):
    """The question cannot be searched (empty once invisible characters are removed)."""


class StoreUnavailableError(QuotebotError):
    """The index database cannot be reached right now; the same request may succeed later."""


class StoreSchemaError(QuotebotError):
    """The index database holds a schema this version does not know; nothing was changed."""


class ChangesSinceError(QuotebotError):
    """`changes --since` (or `/changes since`) is neither a generation, a date nor a duration."""


class IndexLocationError(QuotebotError):
    """The index folder cannot be created, locked or written (names the path and the cause);
    the index already in service, if any, is left as it was."""
