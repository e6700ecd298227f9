"""Log evidence: the controller events and work orders of the window that weigh most on the score.

Each event or work order the window reads is removed in turn (its slot masked, as an empty slot is; the
modality marked absent when nothing of it is left) and the window re-scored; its weight is the fall in
failure probability. An overcurrent trip that raises the score weighs positive; a recent preventive task
that lowers it weighs negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from omnimaint.data.schema import MAINTENANCE_KINDS, SEVERITIES
from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import MODALITIES, Batch
from omnimaint.diagnosis.occlusion import Edit, Occlusions, Row, Scores

LogKind = Literal["event", "work_order"]
_MASKS: dict[LogKind, tuple[str, str]] = {
    "event": ("event_mask", "events"),
    "work_order": ("maintenance_mask", "maintenance"),
}


@dataclass(frozen=True)
class LogLineEvidence:
    """One event or work order of the window.

    Attributes:
        kind: ``event`` or ``work_order``.
        time: When it happened (an event) or was closed (a work order), ISO-8601 UTC.
        label: Event code, or the component a work order was on.
        severity: Event severity, or the work order's kind (preventive, corrective, inspection).
        text: The message or the work order's problem / cause / action.
        contribution: Fall in failure probability when it is removed.
    """

    kind: LogKind
    time: str
    label: str
    severity: str
    text: str
    contribution: float


def _name(names: tuple[str, ...], index: int, offset: int, unknown: str) -> str:
    position = index - offset
    return names[position] if 0 <= position < len(names) else unknown


class LogOcclusion:
    """Registers the removal of each event and work order of one window, and reads the weights back."""

    def __init__(self, window: Batch, vocab: Vocabulary) -> None:
        self.window = window
        self.vocab = vocab
        self.lines: list[tuple[LogKind, int]] = []
        for kind, (mask, _) in _MASKS.items():
            present = getattr(window, mask)
            if present is not None:
                self.lines += [(kind, int(slot)) for slot in np.flatnonzero(present[0])]

    def _edit(self, kind: LogKind, slot: int) -> Edit:
        mask, modality = _MASKS[kind]
        column = MODALITIES.index(modality)

        def edit(row: Row) -> None:
            row[mask][slot] = False
            if kind == "event" and not row[mask].any():
                row["presence"][column] = False

        return edit

    def register(self, occlusions: Occlusions) -> None:
        for kind, slot in self.lines:
            occlusions.add(("log", kind, slot), self._edit(kind, slot))

    def _describe(self, kind: LogKind, slot: int) -> tuple[str, str, str, str]:
        w, anchor = self.window, pd.Timestamp(self.window.anchors[0], tz="UTC")
        if kind == "event":
            assert w.event_age_hours is not None and w.event_codes is not None and w.event_severity is not None
            assert w.event_text is not None
            age, text = float(w.event_age_hours[0, slot]), int(w.event_text[0, slot])
            label = _name(self.vocab.event_codes, int(w.event_codes[0, slot]), 2, "unknown code")
            severity = _name(SEVERITIES, int(w.event_severity[0, slot]), 1, "")
        else:
            assert w.maintenance_age_hours is not None and w.maintenance_component is not None
            assert w.maintenance_kind is not None and w.maintenance_text is not None
            age, text = float(w.maintenance_age_hours[0, slot]), int(w.maintenance_text[0, slot])
            label = _name(self.vocab.components, int(w.maintenance_component[0, slot]), 1, "")
            severity = _name(MAINTENANCE_KINDS, int(w.maintenance_kind[0, slot]), 1, "")
        when = (anchor - pd.Timedelta(hours=age)).isoformat()
        return when, label, severity, w.texts[text] if text >= 0 else ""

    def evidence(self, scores: Scores, rows: dict[object, int]) -> tuple[LogLineEvidence, ...]:
        """Every event and work order, largest weight first."""
        p = scores.failure_probability
        out = []
        for kind, slot in self.lines:
            when, label, severity, text = self._describe(kind, slot)
            fall = float(p[0] - p[rows[("log", kind, slot)]])
            out.append(LogLineEvidence(kind, when, label, severity, text, fall))
        return tuple(sorted(out, key=lambda e: -e.contribution))
