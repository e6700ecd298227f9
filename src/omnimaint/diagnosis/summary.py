"""A :class:`~omnimaint.diagnosis.evidence.Diagnosis` as plain text, for a terminal or a log.

The text shows the head of each ranking (``top`` items); the JSON form (:meth:`Diagnosis.to_dict`) holds all of
it, with the series, spectra and heat-map PNGs a card plots.
"""

from __future__ import annotations

import pandas as pd

from omnimaint.diagnosis.evidence import Diagnosis


def _time(iso: str) -> str:
    return pd.Timestamp(iso).strftime("%Y-%m-%d %H:%M")


def _z(value: float | None) -> str:
    return "z n/a" if value is None else f"z {value:+.1f}"


def _held(held: int, failed_again: int, unknown: int) -> str:
    known = held + failed_again
    rate = f"held {held} of {known}" if known else "outcome not known yet"
    return rate + (f", {unknown} too recent to say" if unknown and known else "")


def _past(d: Diagnosis, top: int) -> list[str]:
    if d.past.unavailable is not None:
        return [f"similar past cases: none ({d.past.unavailable})"]
    lines = ["similar past cases (by fused state; similarity):"]
    for c in d.past.cases[:top]:
        when = _time(c.failure_at) if c.failure_at else "-"
        lines.append(f"  {c.case_id:<10} {c.similarity:.2f}  {c.asset_id} {when} {c.fault_type or '-'}: {c.action}")
    lines.append("suggested actions (votes of the nearest cases):")
    for s in d.past.suggestions[:top]:
        cases = ", ".join(s.case_ids[:4]) + (" ..." if len(s.case_ids) > 4 else "")
        lines.append(f"  {s.score:.2f}  {s.action} ({_held(s.held, s.failed_again, s.unknown)}; cases {cases})")
    return lines


def describe(diagnosis: Diagnosis, top: int = 5) -> str:
    """The diagnosis in a few dozen lines of text."""
    d = diagnosis
    h = d.horizons_hours.index(d.horizon_hours)
    lines = [f"{d.asset_id} ({d.asset_type}) at {_time(d.at)} UTC"]
    chances = ", ".join(
        f"{hours:g} h: {p:.3f}{' ALERT' if alert else ''}"
        for hours, p, alert in zip(d.horizons_hours, d.failure_probability, d.alerts, strict=True)
    )
    lines.append(f"  P(failure within) {chances} (threshold {d.threshold:.3f} at {d.horizon_hours:g} h)")
    frame = f", frame anomaly {d.frame_anomaly:.2f}" if d.frame_anomaly is not None else ""
    lines.append(f"  RUL {d.rul_hours:.0f} h, health {d.health}, anomaly score {d.anomaly_score:.2f}{frame}")
    faults = ", ".join(f"{f.name} {f.probability:.2f}" for f in d.faults[:3])
    components = ", ".join(f"{c.name} {c.probability:.2f}" for c in d.components[:3])
    lines += [f"  likely fault: {faults}", f"  components at risk: {components}"]
    lines.append(f"modalities (fall in P({d.horizons_hours[h]:g} h) when dropped; fusion weight):")
    for m in sorted(d.modalities, key=lambda m: -(m.contribution if m.contribution is not None else -1e9)):
        fall = "absent" if m.contribution is None else f"{m.contribution:+.4f}"
        lines.append(f"  {m.modality:<12} {fall:>8}  weight {m.fusion_weight:.2f}")
    if d.telemetry is not None:
        lines.append(f"telemetry channels (fall when set to the healthy {d.telemetry.occlusion}; deviation; range):")
        for c in d.telemetry.channels[:top]:
            span = f"{_time(c.highlighted.start)} to {_time(c.highlighted.end)}" if c.highlighted else "-"
            lines.append(f"  {c.channel:<20} {c.contribution:+.4f}  {_z(c.z_score):<8}  {span}")
    for s in d.spectra:
        speed = f", shaft {s.shaft_hz:.1f} Hz" if s.shaft_hz else ""
        bearing = f", bearing {s.bearing}" if s.bearing else ""
        lines.append(f"vibration {s.channel} (burst at {_time(s.burst_time)}{speed}{bearing}), bands by deviation:")
        for b in s.bands[:top]:
            base = f" vs {b.baseline_amplitude:.3g}" if b.baseline_amplitude is not None else ""
            lines.append(f"  {b.name:<20} {b.spectrum:<9} {_z(b.z_score):<8} {b.amplitude:.3g}{base}")
    for f in d.frames:
        row, col = f.hottest
        lines.append(
            f"frame {f.camera} at {_time(f.frame_time)}: hottest patch row {row + 1}, column {col + 1} of "
            f"{f.grid}x{f.grid} (fall {f.peak:+.4f})"
        )
        if f.anomaly is not None:
            row, col = f.anomaly.peak
            lines.append(
                f"  PatchCore anomaly {f.anomaly.score:.2f} of the healthy reference, most unusual at pixel row "
                f"{row + 1}, column {col + 1}"
            )
    if d.log_lines:
        lines.append("log lines and work orders (fall when removed):")
        for line in d.log_lines[:top]:
            text = line.text if len(line.text) <= 80 else line.text[:77] + "..."
            lines.append(f"  {line.contribution:+.4f} {_time(line.time)} {line.label} [{line.severity}] {text}")
    lines += _past(diagnosis, top)
    lines.append(f"baseline: {d.baseline.windows} of {d.baseline.candidates} windows, {d.baseline.rule}")
    lines.append(f"took {d.seconds:.2f} s")
    return "\n".join(lines)
