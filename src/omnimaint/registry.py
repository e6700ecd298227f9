"""One registry type for every named, pluggable part: encoders, adapters, protocols and their methods.

A :class:`Registry` maps names to entries of one kind. Its owner (``models``, ``adapters``,
``evaluation.protocols``) chooses the error it raises, so that callers keep catching the error of their
subsystem (:class:`~omnimaint.errors.ConfigError`, ``ProtocolError`` ...), and every unknown name is
reported with the names that are known.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Generic, TypeVar

from omnimaint.errors import OmnimaintError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name.

    Listings come in two orders: :meth:`names` (and iteration) sorted, for messages and tests;
    :meth:`items` in the order of registration, which is the order an owner presents its entries in.

    Args:
        kind: What an entry is, singular (``"protocol"``, ``"source format"``); messages add an ``s``.
        error: The error raised for an unknown or duplicated name.
        owner: What the entries belong to (``"protocol 'cmapss'"``), when the registry is one of many.
    """

    def __init__(self, kind: str, error: type[OmnimaintError], *, owner: str | None = None) -> None:
        self.kind = kind
        self.error = error
        self.owner = owner
        self._entries: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Add ``item`` under ``name`` and return it.

        Args:
            name: The name users and configs give.
            item: The entry.
            replace: Replace an entry of the same name (logged as a warning) instead of refusing it.

        Raises:
            OmnimaintError: the registry's error, if ``name`` is taken and ``replace`` is false.
        """
        if name in self._entries:
            if not replace:
                raise self.error(f"{self._where()}{self.kind} {name!r} is registered already")
            logger.warning("replacing %s%s %r", self._where(), self.kind, name)
        self._entries[name] = item
        return item

    def get(self, name: str) -> T:
        """The entry called ``name``.

        Raises:
            OmnimaintError: the registry's error, naming the known entries, if there is none.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(self._unknown(name)) from None

    def pop(self, name: str) -> T:
        """Remove the entry called ``name`` and return it (a test's temporary registration, for one).

        Raises:
            OmnimaintError: the registry's error, naming the known entries, if there is none.
        """
        entry = self.get(name)
        del self._entries[name]
        return entry

    def names(self) -> list[str]:
        """Names of the entries, sorted."""
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` pairs in the order they were registered."""
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self._where()}{self.kind}: {', '.join(self.names())})"

    def _where(self) -> str:
        return f"{self.owner}: " if self.owner else ""

    def _unknown(self, name: str) -> str:
        known = ", ".join(self.names()) or "(none)"
        if self.owner:
            return f"{self.owner} has no {self.kind} {name!r}; its {self.kind}s: {known}"
        return f"unknown {self.kind} {name!r}; known {self.kind}s: {known}"
