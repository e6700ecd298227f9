"""The deletion test of faithfulness: occlude telemetry channels in a given order and watch the score fall.

An explanation is faithful when what it ranks first really drives the model: occluding its top-k channels
should lower the failure probability more than occluding k channels at random (Samek et al., 2017, "region
perturbation"; Petsiuk et al., 2018, "deletion"). :func:`deletion_scores` reads the window and baseline
exactly as :func:`~omnimaint.diagnosis.evidence.diagnose` does, occludes the same way, and scores every
requested channel set in one ``predict`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis.baseline import parse_time, read_scene
from omnimaint.diagnosis.occlusion import Occlusions
from omnimaint.diagnosis.telemetry import TelemetryOcclusion, TelemetryOcclusionMode
from omnimaint.errors import ConfigError
from omnimaint.inference.predictor import Predictor


def deletion_scores(
    predictor: Predictor,
    dataset: Dataset,
    asset_id: str,
    at: str | datetime | pd.Timestamp,
    channel_sets: Sequence[Sequence[str]],
    *,
    horizon: int = 0,
    max_baseline: int = 24,
    telemetry_occlusion: TelemetryOcclusionMode = "baseline",
) -> np.ndarray:
    """Failure probability of the window with each set of telemetry channels occluded.

    Args:
        predictor: The bundle's predictor.
        dataset: The dataset.
        asset_id: The asset.
        at: The window's end.
        channel_sets: Channel names to occlude together, one set per score (e.g. the top-1, top-2 … channels).
        horizon: Index of the horizon read.
        max_baseline: As in :func:`~omnimaint.diagnosis.evidence.diagnose`.
        telemetry_occlusion: As in :func:`~omnimaint.diagnosis.evidence.diagnose`.

    Returns:
        ``(1 + len(channel_sets),)``: the window as it is, then with each set occluded.

    Raises:
        ConfigError: as :func:`~omnimaint.diagnosis.evidence.diagnose`, and when the bundle reads no telemetry.
    """
    spec = predictor.bundle.window.telemetry
    if spec is None:
        raise ConfigError(f"{predictor.bundle.path}: the bundle reads no telemetry; there is nothing to delete")
    window, baseline = read_scene(
        predictor, dataset, asset_id, parse_time(at), horizon=horizon, max_baseline=max_baseline
    )
    telemetry = TelemetryOcclusion(
        window,
        baseline.windows,
        spec.input_channels(
            predictor.bundle.preprocessor.vocab.telemetry_channels, predictor.bundle.preprocessor.regimes
        ),
        pd.Timedelta(spec.step),
        occlusion=telemetry_occlusion,
    )
    occlusions = Occlusions(window)
    for i, channels in enumerate(channel_sets):
        telemetry.occlude_channels(occlusions, i, list(channels))
    scores, _ = occlusions.score(predictor, horizon)
    return scores.failure_probability
