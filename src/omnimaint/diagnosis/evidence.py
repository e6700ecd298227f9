"""Evidence assembly: :func:`diagnose` turns one asset at one time into a :class:`Diagnosis`.

Everything goes through the bundle's :class:`~omnimaint.inference.predictor.Predictor`: the window is cut with
the bundle's WindowSpec, preprocessed by its fitted preprocessor, and every piece of evidence is the model's
own answer to an occluded copy of that window (:mod:`omnimaint.diagnosis.occlusion`), all scored together.
Contributions are falls in the failure probability of one horizon (the shortest by default), so they read
"this much of P(failure within 24 h) comes from here"; per modality, the fall in the likely fault's
probability is given too, beside the fusion's own modality weights. Deviations are measured against the
asset's own healthy baseline (:mod:`omnimaint.diagnosis.baseline`). ``docs/diagnosis.md`` explains each kind.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.windows import HEALTH_STATES, MODALITIES, Batch
from omnimaint.diagnosis.baseline import parse_time, read_scene
from omnimaint.diagnosis.cases import CaseBase
from omnimaint.diagnosis.frames import FrameAnomalyEvidence, FrameEvidence, FrameOcclusion, frame_anomaly_evidence
from omnimaint.diagnosis.logs import LogLineEvidence, LogOcclusion
from omnimaint.diagnosis.occlusion import Occlusions, merge
from omnimaint.diagnosis.similar import PastCases, bundle_case_base, past_cases
from omnimaint.diagnosis.spectrum import Machine, SpectrumEvidence, burst_spectra
from omnimaint.diagnosis.telemetry import TelemetryEvidence, TelemetryOcclusion, TelemetryOcclusionMode
from omnimaint.inference.predictor import Predictor


@dataclass(frozen=True)
class Likelihood:
    """A fault type or component with its probability."""

    name: str
    probability: float


@dataclass(frozen=True)
class ModalityEvidence:
    """One modality: whether the window has it, what dropping it changes, and the fusion's weight.

    Attributes:
        modality: Modality name.
        present: Whether the window holds any data of it.
        contribution: Fall in failure probability when it is dropped (``None`` when absent).
        fault_contribution: Fall in the likely fault's probability when it is dropped (``None`` when absent).
        fusion_weight: The fusion's attention weight on it (0 when absent).
    """

    modality: str
    present: bool
    contribution: float | None
    fault_contribution: float | None
    fusion_weight: float


@dataclass(frozen=True)
class BaselineSummary:
    """How the healthy baseline was chosen: windows kept, windows scored, and the rule in words."""

    windows: int
    candidates: int
    rule: str


@dataclass(frozen=True)
class Diagnosis:
    """What the model says about one asset at one time, and the evidence behind it.

    Attributes:
        asset_id: The asset.
        asset_type: Its type.
        at: The diagnosed time (the window's end), ISO-8601 UTC.
        horizons_hours: The bundle's prediction horizons.
        failure_probability: P(failure within each horizon).
        alerts: Whether each is at or above its calibrated threshold.
        horizon_hours: The horizon whose failure probability the contributions are falls of.
        threshold: That horizon's alert threshold.
        rul_hours: Remaining useful life.
        health: Likeliest health state.
        anomaly_score: Distance of the fused state from healthy training windows.
        frame_anomaly: The window's frame anomaly (PatchCore on the newest frames, 1 = the healthy validation
            frames' 99th percentile; the largest over the cameras), ``None`` when the bundle has no frame anomaly
            component or the window no frame.
        faults: Fault types, likeliest first (``none`` excluded).
        components: Components by failure probability within the horizon read, likeliest first.
        modalities: Per modality, in canonical order.
        telemetry: Channel and time-range evidence (``None`` without telemetry in the window).
        spectra: One per waveform channel with a burst in the window.
        frames: One heat map per camera with a frame in the window (and its PatchCore anomaly map, when the
            bundle has the frame anomaly component).
        log_lines: Events and work orders of the window, largest weight first.
        baseline: How the healthy baseline was chosen.
        past: The nearest past cases by fused state and the actions that fixed them (or why there are none).
        seconds: Time the diagnosis took.
    """

    asset_id: str
    asset_type: str
    at: str
    horizons_hours: tuple[float, ...]
    failure_probability: tuple[float, ...]
    alerts: tuple[bool, ...]
    horizon_hours: float
    threshold: float
    rul_hours: float
    health: str
    anomaly_score: float
    faults: tuple[Likelihood, ...]
    components: tuple[Likelihood, ...]
    modalities: tuple[ModalityEvidence, ...]
    telemetry: TelemetryEvidence | None
    spectra: tuple[SpectrumEvidence, ...]
    frames: tuple[FrameEvidence, ...]
    log_lines: tuple[LogLineEvidence, ...]
    baseline: BaselineSummary
    past: PastCases
    seconds: float
    frame_anomaly: float | None = None

    @property
    def likely_fault(self) -> Likelihood:
        return self.faults[0]

    def ranked_modalities(self) -> tuple[str, ...]:
        """Present modalities by contribution, largest first."""
        present = [m for m in self.modalities if m.contribution is not None]
        return tuple(m.modality for m in sorted(present, key=lambda m: -(m.contribution or 0.0)))

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values (PNG overlays as base64 strings)."""
        out = _plain(self)
        assert isinstance(out, dict)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _asset_metadata(dataset: Dataset, asset_id: str) -> tuple[str, dict[str, object]]:
    assets = dataset.table("assets")
    row = assets[assets["asset_id"].astype(str) == asset_id].iloc[0]
    raw = row.get("metadata")
    metadata = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    return str(row["asset_type"]), metadata if isinstance(metadata, dict) else {}


def diagnose(
    predictor: Predictor,
    dataset: Dataset,
    asset_id: str,
    at: str | datetime | pd.Timestamp,
    *,
    horizon: int = 0,
    max_baseline: int = 24,
    n_segments: int = 6,
    ranged_channels: int = 3,
    telemetry_occlusion: TelemetryOcclusionMode = "baseline",
    frame_grid: int | None = None,
    case_base: CaseBase | Literal["bundle"] | None = "bundle",
    k_cases: int = 5,
) -> Diagnosis:
    """Diagnose ``asset_id`` at ``at``: the model's assessment of the window ending then, and its evidence.

    Args:
        predictor: The bundle's predictor.
        dataset: The dataset holding the asset's data.
        asset_id: The asset.
        at: The time diagnosed (the window's end; naive times are UTC).
        horizon: Index of the horizon whose failure probability the contributions are falls of.
        max_baseline: Most baseline windows scored to find the healthy ones.
        n_segments: Time segments of the telemetry window occluded.
        ranged_channels: Channels (of largest contribution) whose time segments are occluded one by one, to
            find the range over which each matters.
        telemetry_occlusion: ``baseline`` (replace readings with the healthy level) or ``mask``.
        frame_grid: Patches per side of the frame heat maps (default: from the frame size).
        case_base: Where similar past cases are found: ``bundle`` (the bundle's own case base, when it has one),
            a loaded :class:`CaseBase` (to load it once for many diagnoses), or ``None`` (no look-up).
        k_cases: Similar cases kept.

    Raises:
        ConfigError: for an unknown asset, a time outside the asset's data, or a window with no data.
        IncompatibleDataError: if the dataset does not fit the bundle.
        BundleError: if the bundle's case base is there but changed or malformed.
    """
    started = time.perf_counter()
    spec = predictor.bundle.window
    stamp = parse_time(at)
    window, baseline = read_scene(predictor, dataset, asset_id, stamp, horizon=horizon, max_baseline=max_baseline)

    used = [m for m in predictor.modalities if window.presence[0, MODALITIES.index(m)]]
    occlusions = Occlusions(window)
    for modality in used:
        occlusions.drop_modality(("modality", modality), modality)
    vocab = predictor.bundle.preprocessor.vocab
    telemetry = None
    if "telemetry" in used and spec.telemetry is not None:
        input_channels = spec.telemetry.input_channels(vocab.telemetry_channels, predictor.bundle.preprocessor.regimes)
        telemetry = TelemetryOcclusion(
            window,
            baseline.windows,
            input_channels,
            pd.Timedelta(spec.telemetry.step),
            n_segments=n_segments,
            occlusion=telemetry_occlusion,
        )
        telemetry.register(occlusions)
    cameras = []
    if "frames" in used:
        cameras = [FrameOcclusion(window, baseline.windows, c, frame_grid) for c in range(len(vocab.cameras))]
        for camera in cameras:
            if camera.present:
                camera.register(occlusions)
    logs = LogOcclusion(window, vocab)
    logs.register(occlusions)
    scores, rows = occlusions.score(predictor, horizon)
    if telemetry is not None and ranged_channels:
        ranges = Occlusions(window)
        telemetry.register_ranges(ranges, telemetry.ranked(scores, rows)[:ranged_channels])
        scores, rows = merge((scores, rows), ranges.score(predictor, horizon))

    base = scores.output
    units = {c.name: c.unit for c in dataset.manifest.channels}
    asset_type, metadata = _asset_metadata(dataset, asset_id)
    thresholds = predictor.bundle.thresholds.failure_probability
    p0, f0 = scores.failure_probability[0], scores.fault_probability[0]
    faults = sorted(zip(base.fault_classes[1:], base.fault_probabilities[0, 1:], strict=True), key=lambda x: -x[1])
    components = sorted(
        zip(base.components, base.component_failure_probability[0, horizon], strict=True), key=lambda x: -x[1]
    )
    modalities = []
    for i, modality in enumerate(MODALITIES):
        if modality not in predictor.modalities:
            continue
        row = rows.get(("modality", modality))
        modalities.append(
            ModalityEvidence(
                modality=modality,
                present=row is not None,
                contribution=float(p0 - scores.failure_probability[row]) if row is not None else None,
                fault_contribution=float(f0 - scores.fault_probability[row]) if row is not None else None,
                fusion_weight=float(base.modality_weights[0, i]),
            )
        )
    if case_base is None:
        past = PastCases(unavailable="no case base was given", why="no_case_base")
    else:
        cases = bundle_case_base(predictor) if isinstance(case_base, str) else case_base
        past = past_cases(predictor, window, cases, asset_type=asset_type, before=stamp.to_pydatetime(), k=k_cases)
    anomalies = _frame_anomalies(predictor, window) if cameras else {}
    frames = tuple(
        camera.evidence(
            scores, rows, vocab.cameras[camera.camera], _frame_time(window, camera.camera), anomalies.get(camera.camera)
        )
        for camera in cameras
        if camera.present
    )
    return Diagnosis(
        asset_id=asset_id,
        asset_type=asset_type,
        at=stamp.isoformat(),
        horizons_hours=base.horizons_hours,
        failure_probability=tuple(float(v) for v in base.failure_probability[0]),
        alerts=tuple(bool(v) for v in base.alerts[0]),
        horizon_hours=base.horizons_hours[horizon],
        threshold=float(thresholds[horizon]) if thresholds else 0.5,
        rul_hours=float(base.rul_hours[0]),
        health=HEALTH_STATES[int(base.health_probabilities[0].argmax())],
        anomaly_score=float(base.anomaly_score[0]),
        frame_anomaly=max((a.score for a in anomalies.values()), default=None),
        faults=tuple(Likelihood(str(n), float(p)) for n, p in faults),
        components=tuple(Likelihood(str(n), float(p)) for n, p in components),
        modalities=tuple(modalities),
        telemetry=telemetry.evidence(scores, rows, units) if telemetry is not None else None,
        spectra=burst_spectra(predictor, dataset, window, baseline.windows, Machine.of(metadata))
        if "waveforms" in used
        else (),
        frames=frames,
        log_lines=logs.evidence(scores, rows),
        baseline=BaselineSummary(baseline.size, baseline.candidates, baseline.rule),
        past=past,
        seconds=time.perf_counter() - started,
    )


def _frame_anomalies(predictor: Predictor, window: Batch) -> dict[int, FrameAnomalyEvidence]:
    """Per camera index, the PatchCore evidence of the window's newest frame (none without the component)."""
    if predictor.frame_anomaly is None or window.frames is None:
        return {}
    scored = predictor.frame_anomaly_scores(window, maps=True)
    assert scored.maps is not None
    reference = predictor.frame_anomaly.settings.reference
    return {
        camera: frame_anomaly_evidence(
            window.frames[0, scored.slots[0, camera], camera],
            scored.maps[0, camera],
            float(scored.raw[0, camera]),
            float(ref),
        )
        for camera, ref in enumerate(reference)
        if ref is not None and np.isfinite(scored.raw[0, camera])
    }


def _frame_time(window: Batch, camera: int) -> str:
    assert window.frame_mask is not None and window.frame_age_hours is not None
    slot = np.flatnonzero(window.frame_mask[0, :, camera])[-1]
    return (
        pd.Timestamp(window.anchors[0], tz="UTC") - pd.Timedelta(hours=float(window.frame_age_hours[0, slot]))
    ).isoformat()
