"""Early-warning metrics on a hand-built alert series, and threshold calibration on validation data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimaint.evaluation.early_warning import evaluate_early_warning, threshold_for_false_alarm_rate

DAY0 = pd.Timestamp("2020-01-01", tz="UTC")


def at(day: int, hour: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=day, hours=hour)


def hourly(asset: str, days: int, alerts: list[pd.Timestamp]) -> pd.DataFrame:
    ts = pd.date_range(DAY0, periods=days * 24 + 1, freq="h")
    return pd.DataFrame({"asset_id": asset, "ts": ts, "score": np.isin(ts, pd.DatetimeIndex(alerts)).astype(float)})


@pytest.fixture
def hand_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Asset A observed 4 days, B 2 days (6 asset-days); horizon 6 h.

    A fails at day 2 12:00 (window [06:00, 12:00)): alerts 07:00-09:00 -> detected, lead 5 h, one true episode.
    A fails at day 3 23:00 (window [17:00, 23:00)): only alerts at 10:00-11:00 -> missed; they form a false episode.
    A alerts alone at day 1 00:00 -> false episode.
    B fails at day 1 12:00: alerts 09:00 and 11:00 (10:00 quiet) -> two true episodes, lead 3 h.
    B fails at day 5 (window after B's data ends) -> not counted.
    """
    a_alerts = [at(1, 0), at(2, 7), at(2, 8), at(2, 9), at(3, 10), at(3, 11)]
    series = pd.concat([hourly("A", 4, a_alerts), hourly("B", 2, [at(1, 9), at(1, 11)])], ignore_index=True)
    failures = pd.DataFrame({"asset_id": ["A", "A", "B", "B"], "ts": [at(2, 12), at(3, 23), at(1, 12), at(5, 0)]})
    return series, failures


def test_hand_built_case(hand_case: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    series, failures = hand_case
    report = evaluate_early_warning(series, failures, pd.Timedelta(hours=6), threshold=0.5)
    assert report.n_failures == 3
    assert report.n_detected == 2
    assert report.detection_rate == pytest.approx(2 / 3)
    assert report.lead_time_hours_median == pytest.approx(4.0)  # leads 5 h and 3 h
    assert report.lead_time_hours_mean == pytest.approx(4.0)
    assert report.asset_days == pytest.approx(6.0)
    assert report.n_true_episodes == 3
    assert report.n_false_alarms == 2
    assert report.false_alarms_per_asset_day == pytest.approx(2 / 6)
    assert report.episode_precision == pytest.approx(3 / 5)


def test_alert_series_without_threshold_matches(hand_case: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    series, failures = hand_case
    alerts = series.assign(alert=series["score"] > 0).drop(columns="score")
    by_alert = evaluate_early_warning(alerts, failures, pd.Timedelta(hours=6))
    by_score = evaluate_early_warning(series, failures, pd.Timedelta(hours=6), threshold=0.5)
    assert by_alert == by_score


def test_alert_starting_before_the_window_splits_into_false_and_true() -> None:
    series = hourly("A", 3, [at(1, 4), at(1, 5), at(1, 6), at(1, 7)])
    failures = pd.DataFrame({"asset_id": ["A"], "ts": [at(1, 12)]})  # window [06:00, 12:00)
    report = evaluate_early_warning(series, failures, pd.Timedelta(hours=6), threshold=0.5)
    assert (report.n_true_episodes, report.n_false_alarms) == (1, 1)
    assert report.lead_time_hours_median == pytest.approx(6.0)


def test_a_standing_false_alarm_counts_once_per_horizon() -> None:
    series = hourly("A", 2, list(pd.date_range(at(0, 0), at(0, 12), freq="h")))  # on for 12 h, no failure
    report = evaluate_early_warning(
        series, pd.DataFrame({"asset_id": [], "ts": []}), pd.Timedelta(hours=5), threshold=0.5
    )
    assert report.n_false_alarms == 1 + 12 // 5
    assert np.isnan(report.detection_rate)


def _validation_series() -> tuple[pd.DataFrame, pd.DataFrame]:
    """10 days of one asset: three false bumps at 0.5, one at 0.7, a 0.9 ramp before the failure at day 8 12:00."""
    ts = pd.date_range(DAY0, periods=10 * 24 + 1, freq="h")
    score = np.zeros(len(ts))
    for day in (1, 3, 5):
        score[ts == at(day, 3)] = 0.5
    score[ts == at(6, 3)] = 0.7
    score[(ts >= at(8, 8)) & (ts < at(8, 12))] = 0.9
    failures = pd.DataFrame({"asset_id": ["A"], "ts": [at(8, 12)]})
    return pd.DataFrame({"asset_id": "A", "ts": ts, "score": score}), failures


def test_threshold_for_false_alarm_rate_picks_the_lowest_meeting_the_target() -> None:
    scores, failures = _validation_series()
    horizon = pd.Timedelta(hours=12)
    # 0.5 gives 4 false alarms in 10 days (0.4/day); 0.7 gives 1 (0.1/day); 0.9 gives none.
    assert threshold_for_false_alarm_rate(scores, failures, horizon, 0.15) == pytest.approx(0.7)
    assert threshold_for_false_alarm_rate(scores, failures, horizon, 0.05) == pytest.approx(0.9)
    assert threshold_for_false_alarm_rate(scores, failures, horizon, 0.5) == pytest.approx(0.5)
    chosen = threshold_for_false_alarm_rate(scores, failures, horizon, 0.15)
    report = evaluate_early_warning(scores, failures, horizon, threshold=chosen)
    assert report.false_alarms_per_asset_day <= 0.15
    assert report.detection_rate == 1.0


def test_threshold_with_unreachable_target_silences_alerts() -> None:
    scores, failures = _validation_series()
    scores.loc[scores.index[:48], "score"] = 1.0  # a standing false alarm at the top score
    chosen = threshold_for_false_alarm_rate(scores, failures, pd.Timedelta(hours=12), 0.0)
    assert chosen > 1.0
    assert evaluate_early_warning(scores, failures, pd.Timedelta(hours=12), threshold=chosen).n_false_alarms == 0


def test_figures_without_failures_or_alerts_are_undefined_with_reasons() -> None:
    stamps = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    quiet = pd.DataFrame({"asset_id": "A", "ts": stamps, "alert": False})
    report = evaluate_early_warning(quiet, pd.DataFrame({"asset_id": [], "ts": []}), pd.Timedelta(hours=6))
    reasons = report.undefined()
    assert set(reasons) == {"detection_rate", "lead_time_hours_median", "lead_time_hours_mean", "episode_precision"}
    assert "no failure" in reasons["detection_rate"] and reasons["episode_precision"] == "no alert was raised"
    as_json = report.to_json()
    assert as_json["detection_rate"] is None and as_json["false_alarms_per_asset_day"] == 0.0
    assert as_json["n_failures"] == 0 and isinstance(as_json["n_failures"], int)
    # A failure that no alert preceded: the detection rate is defined (0), the lead time is not.
    failure = pd.DataFrame({"asset_id": ["A"], "ts": [stamps[30]]})
    missed = evaluate_early_warning(quiet, failure, pd.Timedelta(hours=6))
    assert missed.detection_rate == 0.0 and "detection_rate" not in missed.undefined()
    assert missed.undefined()["lead_time_hours_median"] == "no failure was detected, so there is no lead time"
