"""Exception types shared by every subsystem.

Errors for users say what was wrong, where (file, column, row, field) and, when it is not obvious,
what to do. The CLI prints their message as a one-line reason and exits non-zero.
"""


class OmnimaintError(Exception):
    """Base class of every error omnimaint raises on purpose."""


class DatasetError(OmnimaintError):
    """A dataset on disk (or about to be written) breaks the canonical data model."""


class ConfigError(OmnimaintError):
    """A configuration value (CLI flag, YAML file, WindowSpec) is invalid."""
