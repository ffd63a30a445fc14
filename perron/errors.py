"""One exception tree. Every error carries a ``hint`` telling the user what to do next."""

from __future__ import annotations


class PerronError(Exception):
    """Root of every error perron raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(PerronError):
    exit_code = 2


class SourceError(PerronError):
    """A source cannot be read at all (unknown format, unreadable file, dead endpoint)."""

    exit_code = 3


class NormalizeError(PerronError):
    """One record cannot be normalized; the pipeline quarantines it and goes on."""


class QueryError(PerronError):
    """A monitor query is invalid. ``column`` is 1-based, pointing into the query."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, column: int | None = None,
                 query: str | None = None) -> None:
        super().__init__(message, hint)
        self.column = column
        self.query = query

    def __str__(self) -> str:
        out = self.message
        if self.query is not None and self.column is not None:
            out += f"\n  {self.query}\n  {' ' * (self.column - 1)}^"
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out


class StoreError(PerronError):
    exit_code = 4


class NotFound(PerronError):
    exit_code = 5
