"""The words for the service's own codes (health states, alarm states and priorities, audit actions, roles …).

Each is marked with :func:`N_` so that ``pybabel extract`` puts it in the catalogues; pages translate it when
they show it (:func:`label`). A value with no entry here (a priority band a plant named itself, a fault type
of its dataset) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def N_(message: str) -> str:  # the gettext name extractors look for
    """Mark ``message`` for extraction without translating it here (it is translated where it is shown)."""
    return message


LABELS: Mapping[str, Mapping[str, str]] = {
    "health": {
        "healthy": N_("healthy"),
        "degrading": N_("degrading"),
        "critical": N_("critical"),
        "unscored": N_("not scored yet"),
    },
    "state": {
        "open": N_("open"),
        "acknowledged": N_("acknowledged"),
        "resolved": N_("resolved"),
        "shelved": N_("shelved"),
        "cleared": N_("returned to normal"),
    },
    "priority": {"urgent": N_("urgent"), "high": N_("high"), "medium": N_("medium"), "low": N_("low")},
    "action": {
        "raised": N_("raised"),
        "peak": N_("peak rose"),
        "cleared": N_("returned to normal"),
        "returned": N_("condition returned"),
        "acknowledged": N_("acknowledged"),
        "shelved": N_("shelved"),
        "unshelved": N_("unshelved"),
        "resolved": N_("resolved"),
    },
    "role": {"viewer": N_("viewer"), "operator": N_("operator"), "admin": N_("admin")},
    "modality": {
        "telemetry": N_("telemetry"),
        "waveforms": N_("vibration"),
        "frames": N_("camera"),
        "events": N_("event log"),
        "maintenance": N_("work orders"),
    },
    "kind": {
        "preventive": N_("preventive"),
        "corrective": N_("corrective"),
        "inspection": N_("inspection"),
        "event": N_("event"),
        "work_order": N_("work order"),
    },
    "severity": {"info": N_("info"), "warning": N_("warning"), "alarm": N_("alarm"), "critical": N_("critical")},
    "outcome": {"held": N_("held"), "failed_again": N_("failed again"), "unknown": N_("not known yet")},
}

PRIORITY_ORDER = ("urgent", "high", "medium", "low")
"""Known priorities, most urgent first (others sort after them, by name)."""


def priority_rank(priority: str) -> tuple[int, str]:
    """Sort key of a priority: known ones in :data:`PRIORITY_ORDER`, then the rest by name."""
    return (PRIORITY_ORDER.index(priority), "") if priority in PRIORITY_ORDER else (len(PRIORITY_ORDER), priority)


def label(gettext: Callable[[str], str], kind: str, value: object) -> str:
    """``value`` of ``kind`` in the page's language, or as it is when it has no entry."""
    text = str(value)
    known = LABELS.get(kind, {}).get(text)
    return gettext(known) if known is not None else text
