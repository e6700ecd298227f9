"""Work-order text: problem, cause and action in a technician's words.

Corrective and finding orders describe the true fault in varied phrasings (so that retrieving
similar past cases by text works, without the fault-type identifier ever appearing); preventive
and routine orders describe the task. A sloppy repair is usually, not always, admitted in the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from omnimaint.sim import text_en, text_zh
from omnimaint.sim.history import MaintenanceAction
from omnimaint.sim.technician import Technician, style

ADMIT_POOR_REPAIR = 0.7


@dataclass(frozen=True)
class Readings:
    """Readings a technician may quote: vibration RMS (mm/s), housing temperature (degC), belt slip (%)."""

    vib: float
    temp: float
    slip: float


@dataclass(frozen=True)
class WorkOrderText:
    """The free-text fields of a work order."""

    problem: str
    cause: str | None
    action: str


def _bank(lang: str) -> ModuleType:
    return text_zh if lang == "zh" else text_en


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def write_work_order(
    action: MaintenanceAction,
    asset_type: str,
    readings: Readings,
    technician: Technician,
    *,
    lang: str,
    typo_rate: float,
    rng: np.random.Generator,
) -> WorkOrderText:
    """Write the text of one work order.

    Args:
        action: What was done and what was found.
        asset_type: Machine type (names the parts).
        readings: Readings at the time the order was opened.
        technician: Who writes it.
        lang: ``en`` or ``zh``.
        typo_rate: Plant-wide typo rate (scaled by the technician's habit).
        rng: The asset's text stream.

    Returns:
        Problem, cause (``None`` for routine tasks) and action.
    """
    bank = _bank(lang)
    sep = "，" if lang == "zh" else ", "
    values = {
        **bank.PARTS[asset_type],
        "vib": f"{readings.vib:.1f}",
        "temp": f"{readings.temp:.0f}",
        "slip": f"{readings.slip:.1f}",
    }
    cause: str | None
    if action.finding is not None:
        phrases = (bank.CORRECTIVE if action.kind == "corrective" else bank.FOUND)[action.variant or action.finding]
        problem, cause, done = (_pick(phrases[field], rng) for field in ("problem", "cause", "action"))
        if action.poor_repair and rng.random() < ADMIT_POOR_REPAIR:
            done += sep + _pick(bank.POOR_REPAIR, rng)
    elif action.component is not None:
        phrases = bank.PREVENTIVE[action.component]
        problem, cause, done = _pick(phrases["problem"], rng), None, _pick(phrases["action"], rng)
    else:
        problem, cause, done = _pick(bank.ROUTINE["problem"], rng), None, _pick(bank.ROUTINE["action"], rng)
    if rng.random() < technician.detail:
        done += sep + _pick(bank.DETAIL, rng)
        if rng.random() < 0.5:
            done += (" " if lang == "zh" else " - ") + technician.name

    def finish(text: str) -> str:
        text = text.format(**values)
        text = text[0].upper() + text[1:] if lang == "en" else text
        return style(text, technician, lang, typo_rate, rng)

    return WorkOrderText(problem=finish(problem), cause=None if cause is None else finish(cause), action=finish(done))
