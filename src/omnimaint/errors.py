"""Exception types shared by every subsystem.

Errors for users say what was wrong, where (file, column, row, field) and, when it is not obvious,
what to do. The CLI prints their message as a one-line reason and exits non-zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


def describe_validation_error(exc: ValidationError) -> str:
    """A pydantic error in one line: ``field 'a.b': message`` of its first problem, and how many more."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"field '{where}': {str(first['msg']).removeprefix('Value error, ')}{more}"


class OmnimaintError(Exception):
    """Base class of every error omnimaint raises on purpose."""


class DatasetError(OmnimaintError):
    """A dataset on disk (or about to be written) breaks the canonical data model."""


class ConfigError(OmnimaintError):
    """A configuration value (CLI flag, YAML file, WindowSpec) is invalid."""
