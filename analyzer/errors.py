"""Exceptions that carry their fields and build their own message.

Only the CLI turns them into text and an exit code; everything below raises or returns values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes the README documents."""

    OK = 0
    CONFLICT = 1
    BAD_INPUT = 2
    METADATA_UNAVAILABLE = 3


class TfconflictError(Exception):
    """Base of every error a user may see; ``exit_code`` says how the CLI ends."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Problem:
    """One problem found in user input, located as linters do (``FILE:LINE: message``)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class InputError(TfconflictError):
    """Bad input from the user: a file, a selector, an option value."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        if file is not None:
            message = str(Problem(file, line, message))
        super().__init__(message)


class SourceError(TfconflictError):
    """A snapshot source (git repository, bundle, cache) could not be read or synced."""


class MetadataUnavailable(TfconflictError):
    """The metadata needed to analyse the request itself could not be had."""

    exit_code = ExitCode.METADATA_UNAVAILABLE

    def __init__(self, message: str, *, package: str | None = None) -> None:
        self.package = package
        super().__init__(message)
