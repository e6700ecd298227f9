"""The bundle's case base (past corrective work orders and their fixes), loaded once for the whole service.

The cases page searches it by free text in any language (:meth:`CaseLibrary.search`, as ``omnimaint cases search``
does) and every alarm diagnosis finds its similar cases in it. It is loaded on first use, with its text encoder,
behind a lock; a bundle without one is remembered as such.
"""

from __future__ import annotations

import logging
import threading

from omnimaint.diagnosis import CaseBase, CaseSearch, load_case_base, suggest
from omnimaint.diagnosis.case_store import CASES_FILE
from omnimaint.errors import OmnimaintError
from omnimaint.inference.bundle import Bundle

logger = logging.getLogger(__name__)

VOTERS = 20
"""Similar cases whose actions are ranked into suggestions (as ``omnimaint cases search``)."""


class CaseLibrary:
    """The case base of ``bundle``, loaded on first use.

    Args:
        bundle: The service's bundle.
    """

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._lock = threading.Lock()
        self._case_base: CaseBase | None = None
        self.build_command: str | None = None
        self.error: str | None = None
        self._loaded = False

    def case_base(self) -> CaseBase | None:
        """The case base, or ``None``: the bundle has none (:attr:`build_command` says how to build one) or it
        cannot be read (:attr:`error` says why)."""
        with self._lock:
            if not self._loaded:
                self._load()
            return self._case_base

    def _load(self) -> None:
        self._loaded = True
        if CASES_FILE not in self.bundle.files:
            self.build_command = f"omnimaint cases build {self.bundle.path} DATASET"
            return
        try:
            self._case_base = load_case_base(self.bundle)
        except OmnimaintError as exc:
            logger.error("the bundle's case base cannot be read: %s", exc)
            self.error = str(exc).splitlines()[0]

    def search(self, text: str, k: int = 10) -> CaseSearch | None:
        """The ``k`` past cases most similar to ``text`` and the actions that fixed the :data:`VOTERS` nearest
        (``None`` without a case base).

        Raises:
            ConfigError: if ``text`` is blank.
        """
        case_base = self.case_base()
        if case_base is None:
            return None
        nearest = case_base.search(text, max(k, VOTERS))
        return CaseSearch(text, tuple(nearest[:k]), tuple(suggest(nearest, case_base.actions)))
