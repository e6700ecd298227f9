"""Early-warning metrics: does an alert come early enough before a failure, and how often does it cry wolf?

Works on any dataset with failures and on any scorer (baseline or the multimodal model): the input is a
score series ``(asset_id, ts, score)`` and a threshold, or an alert series ``(asset_id, ts, alert)``.

Definitions (``H`` is the warning horizon; an asset's steps are its rows in time order):

- **Alert step**: a step whose score is ``>= threshold`` (or whose ``alert`` is true).
- **Warning window** of a failure at ``f``: ``[f - H, f)``.
- **True alert step**: an alert step inside a warning window of its asset (it is followed by a failure
  within ``H``); otherwise a **false alert step**.
- **Alert episode**: a maximal run of consecutive alert steps of one asset that are all true or all
  false. A plant operator sees one alarm per episode, so alarms are counted per episode, not per step.
  An alert that starts before the warning window thus splits into a false episode (the part more than
  ``H`` before the failure) and a true one.
- **False alarms**: false episodes, where a false episode that stays on longer than ``H`` counts once
  more for each further ``H`` (``1 + floor(duration / H)``): a standing alarm is re-raised to the
  operator, and a threshold that alerts all the time must not look like "one alarm".
- **Detected failure**: at least one alert step of the same asset lies in its warning window. Its
  **lead time** is ``f`` minus the earliest such step (so at most ``H``).
- **False alarms per asset-day**: false alarms / asset-days observed (sum over assets of the span of
  their scored steps, or of the spans given).
- **Episode precision**: true episodes / (true episodes + false alarms).
- A failure counts toward the detection rate when its warning window overlaps its asset's observation
  span (a failure long after the data ends cannot be warned about).

The protocol follows the event-based evaluation customary in predictive maintenance (e.g. Hundman et
al., KDD 2018, for episode-level scoring; the "lead time" and "false alarms per unit time" operating
metrics of alarm management, ISA-18.2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

_HOUR = pd.Timedelta(hours=1)
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class EarlyWarningReport:
    """Event-level early-warning quality of one alert series.

    Attributes:
        n_failures: Failures whose warning window overlaps their asset's observation span.
        n_detected: Of those, failures with an alert step in their warning window.
        detection_rate: ``n_detected / n_failures`` (NaN without failures).
        lead_time_hours_median: Median lead time of detected failures, hours (NaN when none).
        lead_time_hours_mean: Mean lead time of detected failures, hours (NaN when none).
        n_true_episodes: Episodes of true alert steps.
        n_false_alarms: False episodes, a long one counting once per started horizon.
        asset_days: Observed asset-days.
        false_alarms_per_asset_day: ``n_false_alarms / asset_days``.
        episode_precision: ``n_true_episodes / (n_true_episodes + n_false_alarms)`` (NaN without alerts).
    """

    n_failures: int
    n_detected: int
    detection_rate: float
    lead_time_hours_median: float
    lead_time_hours_mean: float
    n_true_episodes: int
    n_false_alarms: int
    asset_days: float
    false_alarms_per_asset_day: float
    episode_precision: float

    def to_dict(self) -> dict[str, float]:
        """The report as a flat JSON-friendly dict."""
        return {key: float(value) for key, value in asdict(self).items()}

    def undefined(self) -> dict[str, str]:
        """Why each figure that the scored series does not define is undefined (field name → reason).

        The figures are NaN in the report; a JSON consumer writes them as ``null`` with these reasons.
        """
        reasons: dict[str, str] = {}
        if self.n_failures == 0:
            reasons["detection_rate"] = "no failure falls within the scored period of the evaluated assets"
        if self.n_detected == 0:
            why = "no failure was detected" if self.n_failures else "there is no failure to detect"
            reasons["lead_time_hours_median"] = reasons["lead_time_hours_mean"] = f"{why}, so there is no lead time"
        if self.asset_days <= 0:
            reasons["false_alarms_per_asset_day"] = "the scored series spans no time"
        if self.n_true_episodes + self.n_false_alarms == 0:
            reasons["episode_precision"] = "no alert was raised"
        return reasons

    def to_json(self) -> dict[str, float | int | None]:
        """The report with undefined figures as ``None`` (see :meth:`undefined` for why) and counts as ints."""
        undefined = self.undefined()
        return {key: None if key in undefined else value for key, value in asdict(self).items()}


def observation_spans(series: pd.DataFrame) -> pd.DataFrame:
    """Per asset, the first and last timestamp of a score or alert series (columns asset_id, start, end)."""
    grouped = series.groupby("asset_id", sort=True)["ts"]
    return pd.DataFrame({"start": grouped.min(), "end": grouped.max()}).reset_index()


class _PreparedSeries:
    """A series sorted by asset and time, with per-step facts that do not depend on the threshold."""

    def __init__(self, series: pd.DataFrame, failures: pd.DataFrame, horizon: pd.Timedelta) -> None:
        if horizon <= pd.Timedelta(0):
            raise ValueError(f"the horizon must be positive, got {horizon}")
        missing = {"asset_id", "ts"} - set(series.columns)
        if missing:
            raise ValueError(f"the score series lacks columns {sorted(missing)}")
        ordered = series.sort_values(["asset_id", "ts"], kind="stable").reset_index(drop=True)
        self.frame = ordered
        assets = ordered["asset_id"].to_numpy()
        self.asset_start = np.r_[True, assets[1:] != assets[:-1]] if len(assets) else np.zeros(0, dtype=bool)
        self.ts = pd.DatetimeIndex(ordered["ts"]).as_unit("ns")
        self.horizon = horizon
        self.failures = {
            str(asset): pd.DatetimeIndex(group["ts"]).as_unit("ns").sort_values()
            for asset, group in failures.groupby("asset_id", sort=False)
        }
        # covered[i]: step i lies in the warning window [f - H, f) of some failure f of its asset.
        self.covered = np.zeros(len(ordered), dtype=bool)
        for asset, rows in ordered.groupby("asset_id", sort=False).indices.items():
            fails = self.failures.get(str(asset))
            if fails is None or len(fails) == 0:
                continue
            step_ts = self.ts[rows]
            following = np.searchsorted(fails.asi8, step_ts.asi8, side="right")
            has_next = following < len(fails)
            gap = np.full(len(rows), np.iinfo(np.int64).max, dtype=np.int64)
            gap[has_next] = fails.asi8[following[has_next]] - step_ts.asi8[has_next]
            self.covered[rows] = gap <= horizon.value

    def episodes(self, alert: np.ndarray) -> tuple[int, int]:
        """Number of true episodes and of false alarms (see the module docstring), for a boolean alert per step."""
        steps = np.flatnonzero(alert)
        if steps.size == 0:
            return 0, 0
        truth = self.covered[steps]
        # A run continues when the previous row is an alert step of the same asset with the same truth.
        continues = np.r_[False, (steps[1:] == steps[:-1] + 1) & (truth[1:] == truth[:-1])]
        continues &= ~self.asset_start[steps]
        firsts = np.flatnonzero(~continues)  # positions in `steps` where a run starts
        lasts = np.r_[firsts[1:] - 1, steps.size - 1]
        run_truth = truth[firsts]
        ts = self.ts.asi8
        duration = ts[steps[lasts]] - ts[steps[firsts]]
        false_alarms = int(np.sum(1 + duration[~run_truth] // self.horizon.value))
        return int(run_truth.sum()), false_alarms


def _asset_days(spans: pd.DataFrame) -> float:
    durations = pd.to_datetime(spans["end"], utc=True) - pd.to_datetime(spans["start"], utc=True)
    return float(durations.sum() / _DAY)


def _alerts(series: pd.DataFrame, threshold: float | None) -> np.ndarray:
    if threshold is None:
        if "alert" not in series.columns:
            raise ValueError("pass a threshold, or a series with a boolean 'alert' column")
        return series["alert"].to_numpy(dtype=bool)
    if "score" not in series.columns:
        raise ValueError("a threshold needs a series with a 'score' column")
    return series["score"].to_numpy(dtype=float) >= threshold


def evaluate_early_warning(
    series: pd.DataFrame,
    failures: pd.DataFrame,
    horizon: pd.Timedelta,
    *,
    threshold: float | None = None,
    spans: pd.DataFrame | None = None,
) -> EarlyWarningReport:
    """Score an alert series against failures with the definitions of this module.

    Args:
        series: Rows ``(asset_id, ts, score)`` (with ``threshold``) or ``(asset_id, ts, alert)``.
        failures: Rows ``(asset_id, ts)`` of failures (extra columns are ignored).
        horizon: Warning horizon ``H``.
        threshold: Alert when ``score >= threshold``; ``None`` reads the ``alert`` column.
        spans: Observation span per asset (``asset_id, start, end``); default: each asset's first to last step.

    Returns:
        The report.
    """
    prepared = _PreparedSeries(series, failures, horizon)
    alert = _alerts(prepared.frame, threshold)
    spans = observation_spans(prepared.frame) if spans is None else spans
    asset_days = _asset_days(spans)
    n_true, n_false = prepared.episodes(alert)

    lead_hours: list[float] = []
    n_failures = 0
    span_by_asset = {
        str(asset): (start, end)
        for asset, start, end in zip(
            spans["asset_id"],
            pd.to_datetime(spans["start"], utc=True),
            pd.to_datetime(spans["end"], utc=True),
            strict=True,
        )
    }
    step_rows = prepared.frame.groupby("asset_id", sort=False).indices
    for asset, fails in prepared.failures.items():
        if asset not in span_by_asset:
            continue
        start, end = span_by_asset[asset]
        rows = step_rows.get(asset, np.zeros(0, dtype=np.int64))
        alert_ts = prepared.ts[rows][alert[rows]]
        for failure in fails:
            window_start = failure - horizon
            if not (window_start <= end and failure > start):
                continue
            n_failures += 1
            in_window = alert_ts[(alert_ts >= window_start) & (alert_ts < failure)]
            if len(in_window):
                lead_hours.append(float((failure - in_window.min()) / _HOUR))
    leads = np.asarray(lead_hours)
    return EarlyWarningReport(
        n_failures=n_failures,
        n_detected=len(leads),
        detection_rate=len(leads) / n_failures if n_failures else float("nan"),
        lead_time_hours_median=float(np.median(leads)) if len(leads) else float("nan"),
        lead_time_hours_mean=float(np.mean(leads)) if len(leads) else float("nan"),
        n_true_episodes=n_true,
        n_false_alarms=n_false,
        asset_days=asset_days,
        false_alarms_per_asset_day=n_false / asset_days if asset_days > 0 else float("nan"),
        episode_precision=n_true / (n_true + n_false) if n_true + n_false else float("nan"),
    )


def threshold_for_false_alarm_rate(
    scores_val: pd.DataFrame,
    failures_val: pd.DataFrame,
    horizon: pd.Timedelta,
    target_per_asset_day: float,
    *,
    spans: pd.DataFrame | None = None,
    max_candidates: int = 1024,
) -> float:
    """The lowest threshold whose false-alarm rate on a validation series is at most a target.

    Use it on a validation split only: the threshold is then applied unchanged to test data.

    Candidates are the distinct validation scores (or ``max_candidates`` quantiles of them when there
    are more). Raising a threshold can split an episode in two, so the false-alarm rate is not
    monotonic in the threshold; every candidate is therefore checked and the lowest one that meets the
    target wins. When none does, the returned threshold lies just above the highest score (no alert).

    Args:
        scores_val: Validation rows ``(asset_id, ts, score)``.
        failures_val: Validation failures ``(asset_id, ts)``.
        horizon: Warning horizon ``H``.
        target_per_asset_day: Highest acceptable false episodes per asset-day.
        spans: Observation span per asset; default: each asset's first to last step.
        max_candidates: Most thresholds to try.

    Returns:
        The threshold (alert when ``score >= threshold``).
    """
    if target_per_asset_day < 0:
        raise ValueError(f"the target false-alarm rate must be >= 0, got {target_per_asset_day}")
    prepared = _PreparedSeries(scores_val, failures_val, horizon)
    scores = prepared.frame["score"].to_numpy(dtype=float)
    if scores.size == 0:
        raise ValueError("no validation scores to choose a threshold from")
    asset_days = _asset_days(observation_spans(prepared.frame) if spans is None else spans)
    if asset_days <= 0:
        raise ValueError("the validation series spans no time; cannot compute a false-alarm rate")
    candidates = np.unique(scores)
    if candidates.size > max_candidates:
        candidates = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, max_candidates)))
    for candidate in candidates:
        _, n_false = prepared.episodes(scores >= candidate)
        if n_false / asset_days <= target_per_asset_day:
            return float(candidate)
    return float(np.nextafter(scores.max(), np.inf))
