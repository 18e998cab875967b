"""Errors a user can act on.

Every error the engine raises on purpose is a :class:`RagError`. Its message says
what went wrong *and what to do about it*; the command line prints it as one line
and exits with :attr:`RagError.exit_code`.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the whole message."""

    exit_code = 1


class RagWarning(UserWarning):
    """Something the user may want to fix that does not stop the command (an unknown
    ``RAG_*`` variable). The command line prints it as ``warning: MSG``."""


class InputError(RagError):
    """Bad input: an empty question, an unreadable or unknown file, a bad filter."""

    exit_code = 2


class ConfigError(RagError):
    """A setting, config file or environment variable has a value we cannot use."""

    exit_code = 2


class NeedsKeyError(ConfigError):
    """An LLM backend was asked for but no API key is configured."""

    def __init__(self, base_url: str | None = None):
        where = f" for {base_url}" if base_url else ""
        super().__init__(
            f"No API key{where}: set OPENAI_API_KEY (or RAG_OPENAI_API_KEY), "
            "or use the offline extractive answerer with --backend extractive."
        )


class ServiceError(RagError):
    """A server we depend on (an LLM endpoint, a Chroma server) failed or is unreachable."""

    exit_code = 3


class IndexMismatchError(RagError):
    """The index on disk was built with settings that do not match the current ones."""

    exit_code = 2


class IndexBusyError(RagError):
    """Another process holds the embedded index; it is free again once that process ends."""

    exit_code = 3


class StorageError(RagError):
    """The disk under the index failed us: no space left (free some and run the command again)."""

    exit_code = 3


class IndexReadOnlyError(StorageError):
    """The index directory cannot be written (a read-only mount, or no permission)."""

    exit_code = 2


class IndexDamagedError(StorageError):
    """The index files are damaged: move them aside and ingest again."""

    exit_code = 2
