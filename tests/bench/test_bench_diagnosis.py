"""Is the evidence right, is it faithful, is it fast? (issue 19; `make bench`; prints and records the figures).

The plant and model of docs/benchmarks.md, "Simulated plant" (30 machines, 90 days, seed 11, fault rates
×3; ``configs/sim-experiment.yaml``, asset split 0), trained here on one thread. On the bundle's held-out test
machines, every warning that precedes a true failure (a window whose failure probability is at or above the
calibrated alert threshold of the horizon read and whose next failure falls within that horizon) is
diagnosed, and:

- **top modality**: is the modality whose removal lowers the score most the fault's signature modality?
  Beside ranking by the fusion weights and at random (expected share ``1 / modalities present``).
- **top-3 channels**: is the fault's signature channel among the three telemetry channels of largest
  contribution? Beside ranking by deviation from the baseline alone (``|z|``) and at random
  (expected share ``3 / channels observed``).
- **deletion**: the failure probability after occluding the top-k channels of the evidence, of the z-score
  ranking and of random orders (10 per warning), k = 0…5; the figure is the area between the random and the
  evidence curves (mean over k = 1…5 of the gap, in probability).

The signature **channel** of a warning comes from the simulator's physics, not from a table: the noise-free
telemetry of :func:`omnimaint.sim.telemetry.true_values` for the asset type at the fault's severity at that
warning (the fault mode's median duration and shape, at the warning's time to failure) against a healthy
machine, each channel's change in units of its sensor noise; the channel that moves most is the signature
when it moves by at least :data:`MIN_SNR` noise units, else the warning has no telemetry signature and is
left out of the channel figure. The simulator has no code that names a fault's *modality*, so
The signature **modality** is the simulator's :data:`~omnimaint.sim.catalog.FAULT_SIGNATURES`: the modality that
shows each fault mode first, and every modality that shows it before it fails (kept in step with docs/simulator.md's
table by a test).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from omnimaint.atomic import BENCH, claim_folder
from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis import Diagnosis, diagnose
from omnimaint.diagnosis.deletion import deletion_scores
from omnimaint.evaluation.model_eval import resolve_split
from omnimaint.inference import Predictor
from omnimaint.sim.catalog import FAULT_SIGNATURES

pytestmark = pytest.mark.bench

REPO = Path(__file__).resolve().parents[2]
MIN_SNR = 2.0
DELETE_K = 5
RANDOM_ORDERS = 10


class _OneFault:
    """A stand-in for the simulator's asset history: one fault mode at one severity, every other at zero."""

    def __init__(self, mode: str, severity: float) -> None:
        self.mode, self.level = mode, severity

    def severity(self, mode: str, t_s: np.ndarray, variant: str | None = None) -> np.ndarray:
        return np.full(np.shape(t_s), self.level if mode == self.mode else 0.0)


def signature_channel(asset_type: str, fault_type: str, hours_to_failure: float) -> str | None:
    """The telemetry channel the simulator's physics moves most (in sensor-noise units) at this warning."""
    from omnimaint.sim.asset import fault_severity
    from omnimaint.sim.catalog import ASSET_TYPES, FAULT_MODES
    from omnimaint.sim.profile import draw_profile
    from omnimaint.sim.regimes import OperatingSchedule
    from omnimaint.sim.telemetry import _SENSOR, true_values

    mode = FAULT_MODES[fault_type]
    severity = max(0.0, 1.0 - hours_to_failure / 24.0 / mode.median_duration_days) ** mode.shape
    profile = draw_profile(ASSET_TYPES.index(asset_type), len(ASSET_TYPES), np.random.default_rng(0))
    one = np.ones(1)
    top = profile.vibration.top_speed_rpm
    schedule = OperatingSchedule(
        period_s=600.0,
        t_s=np.zeros(1),
        running=one.astype(bool),
        powered=one.astype(bool),
        maintenance=~one.astype(bool),
        setpoint_rpm=top * 0.9 * one,
        speed_rpm=top * 0.9 * one,
        load=0.7 * one,
    )
    ambient, trips = 22.0 * one, ~one.astype(bool)
    healthy = true_values(profile, schedule, fault_severity(_OneFault(fault_type, 0.0), np.zeros(1)), ambient, trips)  # type: ignore[arg-type]
    faulty = true_values(
        profile, schedule, fault_severity(_OneFault(fault_type, severity), np.zeros(1)), ambient, trips
    )  # type: ignore[arg-type]
    snr = {}
    for name, value in healthy.items():
        relative, absolute, _ = _SENSOR[name]
        snr[name] = float(abs(faulty[name][0] - value[0]) / (relative * abs(value[0]) + absolute))
    best = max(snr, key=snr.__getitem__)
    return best if snr[best] >= MIN_SNR else None


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omnimaint.sim import PlantConfig, simulate

    out = tmp_path_factory.mktemp("diagnosis") / "plant"
    simulate(PlantConfig(n_assets=30, days=90, seed=11, fault_rate_scale=3.0, workers=1), out)
    return out


@pytest.fixture(scope="module")
def bundle(plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omnimaint.training.config import load_config
    from omnimaint.training.run import train

    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("diagnosis") / "run"
    overrides = {"data.dataset": str(plant), "out": str(run), "progress": False}
    trained = train(load_config(REPO / "configs" / "sim-experiment.yaml", overrides))
    assert trained is not None
    return trained


def warnings_before_failures(predictor: Predictor, dataset: Dataset, horizon: int) -> pd.DataFrame:
    """Test windows at or above the alert threshold whose next failure falls within the horizon."""
    windows = predictor.windows(dataset, split=resolve_split(predictor, dataset, "test"))
    assessed = predictor.predict_windows(windows)
    labels = windows.labels
    chosen = assessed.alerts[:, horizon] & (labels.failure_within[:, horizon] == 1) & (labels.fault_type > 0)
    anchors = windows.anchors[chosen].reset_index(drop=True)
    anchors["fault_type"] = [predictor.bundle.preprocessor.vocab.fault_classes[i] for i in labels.fault_type[chosen]]
    anchors["hours_to_failure"] = labels.rul_hours[chosen]
    return anchors


def _share(hits: list[float]) -> float | None:
    return round(float(np.mean(hits)), 3) if hits else None


def measure(predictor: Predictor, dataset: Dataset, horizon: int, seed: int = 0) -> dict[str, object]:
    """Every figure of the module docstring for one horizon."""
    rng = np.random.default_rng(seed)
    warnings = warnings_before_failures(predictor, dataset, horizon)
    types = dataset.table("assets").set_index("asset_id")["asset_type"]
    modality: dict[str, list[float]] = {"occlusion": [], "occlusion_any_carrier": [], "fusion_weight": [], "random": []}
    channel: dict[str, list[float]] = {"occlusion": [], "z_score": [], "random": []}
    curves: dict[str, list[np.ndarray]] = {"evidence": [], "z_score": [], "random": []}
    seconds, per_fault = [], []
    for row in warnings.itertuples():
        diagnosis: Diagnosis = diagnose(predictor, dataset, row.asset_id, row.ts, horizon=horizon)
        seconds.append(diagnosis.seconds)
        truth = FAULT_SIGNATURES[row.fault_type].first
        present = [m for m in diagnosis.modalities if m.contribution is not None]
        top = diagnosis.ranked_modalities()[0]
        modality["occlusion"].append(float(top == truth))
        modality["occlusion_any_carrier"].append(float(top in FAULT_SIGNATURES[row.fault_type].shows_in))
        modality["fusion_weight"].append(float(max(present, key=lambda m: m.fusion_weight).modality == truth))
        modality["random"].append(float(truth in {m.modality for m in present}) / len(present))
        signature = signature_channel(str(types[row.asset_id]), row.fault_type, float(row.hours_to_failure))
        evidence = diagnosis.telemetry
        ranked = [c.channel for c in evidence.channels] if evidence is not None else []
        if signature is not None and ranked:
            channel["occlusion"].append(float(signature in ranked[:3]))
            channel["z_score"].append(float(signature in evidence.ranked_by_deviation()[:3]))  # type: ignore[union-attr]
            channel["random"].append(min(3, len(ranked)) / len(ranked) if signature in ranked else 0.0)
        per_fault.append(
            {
                "fault_type": row.fault_type,
                "top_modality": top,
                "signature_channel": signature,
                "top_channels": ranked[:3],
            }
        )
        k = min(DELETE_K, len(ranked))
        if k == 0:
            continue
        orders = [
            ranked,
            list(evidence.ranked_by_deviation()),
            *(list(rng.permutation(ranked)) for _ in range(RANDOM_ORDERS)),
        ]  # type: ignore[union-attr]
        sets = [order[:j] for order in orders for j in range(1, k + 1)]
        p = deletion_scores(predictor, dataset, row.asset_id, row.ts, sets, horizon=horizon)
        steps = p[1:].reshape(len(orders), k)
        pad = np.full((len(orders), DELETE_K - k), np.nan)
        curve = np.column_stack([np.full(len(orders), p[0]), steps, pad])
        curves["evidence"].append(curve[0])
        curves["z_score"].append(curve[1])
        curves["random"].append(np.nanmean(curve[2:], axis=0))
    mean_curves = {name: np.nanmean(np.stack(rows), axis=0) for name, rows in curves.items() if rows}
    gap = (
        float(np.nanmean(mean_curves["random"][1:] - mean_curves["evidence"][1:]))
        if "evidence" in mean_curves
        else None
    )
    gap_z = (
        float(np.nanmean(mean_curves["random"][1:] - mean_curves["z_score"][1:])) if "z_score" in mean_curves else None
    )
    return {
        "horizon_hours": predictor.bundle.window.horizons[horizon].total_seconds() / 3600,
        "warnings": len(warnings),
        "warnings_with_a_telemetry_signature": len(channel["occlusion"]),
        "faults": warnings["fault_type"].value_counts().to_dict(),
        "top_modality_share": {name: _share(hits) for name, hits in modality.items()},
        "signature_channel_in_top3_share": {name: _share(hits) for name, hits in channel.items()},
        "deletion_curves": {name: [round(float(v), 4) for v in curve] for name, curve in mean_curves.items()},
        "deletion_area_random_minus_evidence": round(gap, 4) if gap is not None else None,
        "deletion_area_random_minus_z_score": round(gap_z, 4) if gap_z is not None else None,
        "diagnosis_seconds_median": round(statistics.median(seconds), 3) if seconds else None,
        "diagnosis_seconds_p90": round(float(np.quantile(seconds, 0.9)), 3) if seconds else None,
        "per_warning": per_fault,
    }


@pytest.mark.timeout(3600)  # simulating, training on one thread and diagnosing ~90 warnings: ~20 min
def test_evidence_is_right_faithful_and_fast(plant: Path, bundle: Path, request: pytest.FixtureRequest) -> None:
    torch.set_num_threads(1)
    predictor = Predictor.from_bundle(bundle, threads=1)
    dataset = Dataset(plant)
    started = time.perf_counter()
    results = {
        f"{h.total_seconds() / 3600:g}h": measure(predictor, dataset, i)
        for i, h in enumerate(predictor.bundle.window.horizons)
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = claim_folder(Path(request.config.getoption("--bench-out")), BENCH, reuse=True)
    (out / "diagnosis.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    for horizon, figures in results.items():
        if isinstance(figures, dict):
            summary = {k: v for k, v in figures.items() if k != "per_warning"}
            print(f"\ndiagnosis, {horizon}:", json.dumps(summary, indent=1, default=str))
    assert any(isinstance(f, dict) and f["warnings"] for f in results.values())
