"""Operating regimes: per-regime normalisation of telemetry readings.

A machine that runs at several set points (altitude, Mach number and throttle of a turbofan; load and
speed of a pump) shows readings whose level is set by the regime far more than by wear: a normalisation
fitted over all regimes at once leaves the regime's jumps from cycle to cycle as the largest signal, and
the slow wear trend under them. The remedy of the C-MAPSS multi-condition literature (Wang et al.,
PHM 2008; Li, Ding & Sun, RESS 2018; Heimes, PHM 2008) is to find the regimes from the operating-setting
channels and z-score each reading with the statistics of its own regime.

Here: the operating-setting channels are those a manifest declares with ``role="operating_setting"``
(:func:`operating_settings`); regimes are found by k-means on the standardised settings of the training
data (:func:`fit_regimes`), with the number of regimes given or chosen as the smallest that explains
nearly all the settings' variance (set points are discrete, so the right number leaves almost none);
each reading is then centred and scaled with its regime's mean and standard deviation. The fitted state
is a pydantic model (JSON, no pickle). On a window's telemetry grid, :func:`fit_window_regimes` fits them on
the rows the training windows read and :func:`regime_normalised` applies them. This module imports nothing
from models or training.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from omnimaint.data.manifest import Manifest
from omnimaint.errors import ConfigError

OPERATING_SETTING = "operating_setting"
"""The ``ChannelInfo.role`` of a channel that sets the operating regime rather than measuring the machine."""
MAX_REGIMES = 8
"""The most regimes :func:`choose_n_regimes` tries."""
UNEXPLAINED = 1e-3
""":func:`choose_n_regimes` takes the smallest number of regimes that leaves at most this fraction of the
settings' variance within regimes."""
MIN_REGIME_ROWS = 2
"""A regime seen on fewer training rows takes the statistics of all rows."""


def operating_settings(manifest: Manifest) -> tuple[str, ...]:
    """The telemetry channels a manifest declares as operating settings, in manifest order."""
    return tuple(c.name for c in manifest.channels if c.kind == "telemetry" and c.role == OPERATING_SETTING)


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, *, n_init: int = 4, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii, 2007), best of ``n_init`` starts.

    Args:
        points: Shape ``(n, d)``.
        k: Number of clusters (at most ``n``).
        rng: Source of the seeding.

    Returns:
        Centroids ``(k, d)``, the label of each point ``(n,)`` and the within-cluster sum of squares.
    """
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(n_init):
        centroids = points[[rng.integers(len(points))]]  # (1, d)
        for _ in range(1, k):
            nearest = ((points[:, None, :] - centroids[None]) ** 2).sum(-1).min(axis=1)  # (n,)
            total = nearest.sum()
            pick = int(rng.choice(len(points), p=nearest / total)) if total > 0 else int(rng.integers(len(points)))
            centroids = np.concatenate([centroids, points[pick : pick + 1]])
        for _ in range(max_iter):
            labels = ((points[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(axis=1)  # (n,)
            moved = np.array([points[labels == j].mean(0) if (labels == j).any() else centroids[j] for j in range(k)])
            if np.allclose(moved, centroids):
                break
            centroids = moved
        labels = ((points[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(axis=1)
        inertia = float(((points - centroids[labels]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (centroids, labels, inertia)
    assert best is not None
    return best


def choose_n_regimes(points: np.ndarray, rng: np.random.Generator, max_regimes: int = MAX_REGIMES) -> int:
    """The smallest number of k-means clusters that leaves at most :data:`UNEXPLAINED` of the points' variance
    within clusters (1 when no number up to ``max_regimes`` does: the settings then vary continuously)."""
    total = float(((points - points.mean(0)) ** 2).sum())
    if total == 0:
        return 1
    for k in range(2, min(max_regimes, len(points)) + 1):
        if kmeans(points, k, rng)[2] <= UNEXPLAINED * total:
            return k
    return 1


class OperatingRegimes(BaseModel):
    """Fitted regimes and each reading's statistics per regime (JSON; see :func:`fit_regimes`).

    Attributes:
        settings: The operating-setting channels, in the column order :meth:`assign` takes.
        setting_center: Mean of each setting on the training rows (the clustering standardises settings).
        setting_scale: Standard deviation of each (1 where constant).
        centroids: Regime centres in standardised setting units, shape ``(regimes, settings)``.
        readings: The reading channels, in the column order :meth:`normalise` takes.
        center: Mean of each reading in each regime, shape ``(regimes, readings)``.
        scale: Standard deviation of each reading in each regime (1 where constant), same shape.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: tuple[str, ...]
    setting_center: tuple[float, ...]
    setting_scale: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    readings: tuple[str, ...]
    center: tuple[tuple[float, ...], ...]
    scale: tuple[tuple[float, ...], ...]

    @property
    def n_regimes(self) -> int:
        return len(self.centroids)

    def assign(self, settings: np.ndarray) -> np.ndarray:
        """The regime of each row, shape ``(n,)``, from its settings ``(n, len(self.settings))``."""
        scaled = (settings - np.asarray(self.setting_center)) / np.asarray(self.setting_scale)
        centroids = np.asarray(self.centroids)
        return ((scaled[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(axis=1)

    def normalise(self, readings: np.ndarray, regime: np.ndarray) -> np.ndarray:
        """Readings ``(n, len(self.readings))`` z-scored with the statistics of each row's regime ``(n,)``."""
        return (readings - np.asarray(self.center)[regime]) / np.asarray(self.scale)[regime]

    def one_hot(self, regime: np.ndarray) -> np.ndarray:
        """The regime of each row as ``(n, regimes)`` indicators (the regime as a model input)."""
        return np.eye(self.n_regimes)[regime]


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over rows, NaN (a missing reading) left out; the deviation 1 where a column is
    constant, and (0, 1) where it holds no value."""
    present = ~np.isnan(values)
    count = present.sum(axis=0)
    filled = np.where(present, values, 0.0)
    center = filled.sum(axis=0) / np.maximum(count, 1)
    scale = np.sqrt((np.where(present, values - center, 0.0) ** 2).sum(axis=0) / np.maximum(count, 1))
    return center, np.where(scale > 1e-8 * np.maximum(1.0, np.abs(center)), scale, 1.0)


def fit_regimes(
    settings: np.ndarray,
    readings: np.ndarray,
    setting_names: tuple[str, ...],
    reading_names: tuple[str, ...],
    rng: np.random.Generator,
    n_regimes: int | None = None,
) -> OperatingRegimes:
    """Find the operating regimes of training rows and each reading's statistics in each.

    Args:
        settings: Operating settings of the training rows, shape ``(n, len(setting_names))``.
        readings: Readings of the same rows, shape ``(n, len(reading_names))``; NaN where a reading is missing
            (left out of its statistics).
        setting_names: Names of the setting columns.
        reading_names: Names of the reading columns.
        rng: Source of the k-means seeding.
        n_regimes: Number of regimes; ``None`` chooses it (:func:`choose_n_regimes`).

    Raises:
        ValueError: if there are no rows or no settings, or ``n_regimes`` is not in 1 … rows.
    """
    if len(settings) == 0 or settings.shape[1] == 0:
        raise ValueError(f"regimes need training rows and operating settings; got settings of shape {settings.shape}")
    setting_center, setting_scale = _spread(settings)
    points = (settings - setting_center) / setting_scale  # (n, S) standardised settings
    k = choose_n_regimes(points, rng) if n_regimes is None else n_regimes
    if not 1 <= k <= len(points):
        raise ValueError(f"n_regimes must be between 1 and the {len(points)} training rows, not {k}")
    centroids, labels, _ = kmeans(points, k, rng)
    overall = _spread(readings)
    center, scale = [], []
    for j in range(k):
        rows = readings[labels == j]
        mean, std = _spread(rows) if len(rows) >= MIN_REGIME_ROWS else overall
        center.append(tuple(float(v) for v in mean))
        scale.append(tuple(float(v) for v in std))
    return OperatingRegimes(
        settings=setting_names,
        setting_center=tuple(float(v) for v in setting_center),
        setting_scale=tuple(float(v) for v in setting_scale),
        centroids=tuple(tuple(float(v) for v in c) for c in centroids),
        readings=reading_names,
        center=tuple(center),
        scale=tuple(scale),
    )


def regime_indicators(regimes: OperatingRegimes | None) -> int:
    """How many regime indicator channels the telemetry array holds: one per regime, none with a single regime
    (a constant carries nothing; the estimators' route drops it as a constant channel) or without regimes."""
    return regimes.n_regimes if regimes is not None and regimes.n_regimes > 1 else 0


def fit_window_regimes(
    values: np.ndarray,
    observed: np.ndarray,
    covered: np.ndarray,
    channels: tuple[str, ...],
    setting_names: tuple[str, ...],
    n_regimes: int | None,
    seed: int,
) -> OperatingRegimes:
    """Operating regimes fitted on the ``covered`` grid rows whose settings (``setting_names``, the others of
    ``channels`` are the readings) are all observed; missing readings are left out of their statistics.

    Raises:
        ConfigError: if no such row exists, or ``n_regimes`` exceeds the rows.
    """
    settings = _channel_positions(channels, setting_names, "setting")
    readings = [i for i in range(len(channels)) if i not in settings]
    rows = covered & observed[:, settings].all(axis=1)
    if not rows.any():
        raise ConfigError(
            f"telemetry.regimes: no grid step of the training windows holds every operating setting "
            f"({', '.join(channels[i] for i in settings)})"
        )
    readings_seen = np.where(observed[rows][:, readings], values[rows][:, readings], np.nan)
    try:
        return fit_regimes(
            values[rows][:, settings],
            readings_seen,
            tuple(channels[i] for i in settings),
            tuple(channels[i] for i in readings),
            np.random.default_rng(seed),
            n_regimes,
        )
    except ValueError as exc:
        raise ConfigError(f"telemetry.regimes: {exc}") from exc


def _channel_positions(channels: tuple[str, ...], names: tuple[str, ...], what: str) -> list[int]:
    """Positions of ``names`` among the telemetry channels read.

    Raises:
        ConfigError: naming the first channel that is not read.
    """
    missing = [n for n in names if n not in channels]
    if missing:
        raise ConfigError(f"the operating regimes' {what} {missing[0]!r} is not among the telemetry channels read")
    return [channels.index(n) for n in names]


def regime_normalised(
    values: np.ndarray, observed: np.ndarray, channels: tuple[str, ...], regimes: OperatingRegimes
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Each grid row's readings z-scored with its regime's statistics (:meth:`OperatingRegimes.normalise`), the
    settings dropped, and the regime's indicators (:meth:`OperatingRegimes.one_hot`; none with a single regime,
    :func:`regime_indicators`). A row without every setting observed has no regime: its readings and indicators
    are not observed.

    Returns:
        The readings ``(rows, len(regimes.readings))``, where they are observed, and the indicators
        ``(rows, regime_indicators(regimes))`` with where they are known.
    """
    settings = _channel_positions(channels, regimes.settings, "setting")
    readings = _channel_positions(channels, regimes.readings, "reading")
    known: np.ndarray = np.all(observed[:, settings], axis=1)  # (rows,)
    regime = regimes.assign(values[:, settings])
    normalised = regimes.normalise(values[:, readings], regime)
    seen = observed[:, readings] & known[:, None]
    width = regime_indicators(regimes)
    indicators = regimes.one_hot(regime)[:, :width] * known[:, None]
    return np.where(seen, normalised, 0.0), seen, (indicators, np.repeat(known[:, None], width, axis=1))
