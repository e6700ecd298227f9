"""report.html without a browser: alerts and failures as the evaluation has them, undefined figures with their
reason, empty states in words, both languages complete, a self-contained file; the CLI's summary rows."""

from __future__ import annotations

import json
import re
import string
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data.windows import Labels
from omnimaint.evaluation.early_warning import evaluate_early_warning
from omnimaint.evaluation.model_eval import Evaluation, early_warning, evaluate_bundle, head_metrics
from omnimaint.evaluation.report import summary_rows, write_report
from omnimaint.evaluation.report.figures import figure, lookup
from omnimaint.evaluation.report.i18n import CATALOGUES, Translator
from omnimaint.evaluation.report.model import build_model
from omnimaint.evaluation.report.svg import nice_bounds, tick_label, time_ticks
from omnimaint.inference.predictor import HealthOutput
from tests.unit.bad_inputs.harness import run_cli

START = pd.Timestamp("2024-03-01 00:00", tz="UTC")
HORIZON = 6.0
FAULTS = ("none", "bearing_wear", "seal_leak")


def _evaluation(
    alert_steps: dict[str, list[int]], failure_hours: dict[str, list[float]], hours: int = 48
) -> Evaluation:
    """Hourly windows of assets A and B, one 6 h horizon, alerts at the given steps and failures at the given hours.

    Labels follow the failures (known when the data reach past the horizon or a failure comes first).
    """
    assets = sorted(alert_steps)
    n = hours * len(assets)
    asset_ids = np.repeat(np.array(assets, dtype=object), hours)
    step = np.tile(np.arange(hours), len(assets)).astype(float)
    anchors = (START.tz_convert(None) + pd.to_timedelta(step, unit="h")).to_numpy().astype("datetime64[us]")
    alerts = np.zeros((n, 1), dtype=bool)
    following = np.full(n, np.inf)
    for a, asset in enumerate(assets):
        alerts[a * hours + np.asarray(alert_steps[asset], dtype=int), 0] = True
        for failure in failure_hours.get(asset, []):
            rows = slice(a * hours, (a + 1) * hours)
            gap = failure - step[rows]
            following[rows] = np.where((gap > 0) & (gap < following[rows]), gap, following[rows])
    within = (following <= HORIZON).astype(np.float32)
    known = ((step + HORIZON <= hours - 1) | (within > 0)).astype(np.float32)
    probability = np.where(alerts[:, 0], 0.8, 0.2)
    labels = Labels(
        failure_within=within[:, None],
        failure_within_known=known[:, None],
        component_failure_within=within[:, None, None],
        component_failure_within_known=known[:, None, None],
        rul_hours=np.minimum(following, 24).astype(np.float32),
        rul_known=known,
        fault_type=np.where(known > 0, np.where(within > 0, 1, 0), -1),
        health_state=np.where(known > 0, np.where(within > 0, 2, 0), -1),
    )
    output = HealthOutput(
        asset_ids=asset_ids,
        anchors=anchors,
        failure_probability=probability[:, None],
        component_failure_probability=probability[:, None, None],
        rul_hours=np.full(n, 20.0, dtype=np.float32),
        fault_probabilities=np.tile([0.6, 0.3, 0.1], (n, 1)),
        health_probabilities=np.tile([0.7, 0.2, 0.1], (n, 1)),
        anomaly_score=probability,
        modality_weights=np.full((n, 5), 0.2),
        alerts=alerts,
        horizons_hours=(HORIZON,),
        components=("bearing",),
        fault_classes=FAULTS,
    )
    failures = pd.DataFrame(
        {
            "asset_id": [a for a, fs in failure_hours.items() for _ in fs],
            "ts": [START + pd.Timedelta(hours=f) for fs in failure_hours.values() for f in fs],
            "component": ["bearing" for fs in failure_hours.values() for _ in fs],
            "fault_type": ["bearing_wear" for fs in failure_hours.values() for _ in fs],
        }
    )
    metrics = head_metrics(output, labels, rul_cap_hours=24)
    metrics["early_warning"], undefined = early_warning(output, failures)
    metrics.setdefault("undefined", {}).update(undefined)
    metrics["thresholds"] = {"horizons_hours": [HORIZON], "failure_probability": [0.5], "anomaly_score": 3.0}
    metrics["split"] = "test"
    return Evaluation(metrics=metrics, output=output, labels=labels, failures=failures)


# A: false alarm at 05-06 h, failure at 30 h warned from 25 h (lead 5 h), a repeat at 28 h, and an alert at
# 46-47 h that the data end too soon to judge. B: no failure, one false alarm at 10 h.
ALERTS = {"A": [5, 6, 25, 26, 28, 46, 47], "B": [10]}
FAILURES = {"A": [30.0]}


def _section(page: str, section: str, lang: str = "en") -> str:
    match = re.search(rf'<section id="{section}-{lang}">(.*?)</section>', page, re.S)
    assert match, f"no section {section}-{lang}"
    return match.group(1)


def _rows(html: str) -> list[list[str]]:
    """Text of the cells of each body row of the tables in ``html``."""
    body = "".join(re.findall(r"<tbody>(.*?)</tbody>", html, re.S))
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


@pytest.fixture(scope="module")
def case() -> Evaluation:
    return _evaluation(ALERTS, FAILURES)


def test_alerts_table_lists_each_alert_with_its_outcome(case: Evaluation, tmp_path: Path) -> None:
    _, report = write_report(case, tmp_path, "hand-made")
    page = report.read_text(encoding="utf-8")
    rows = _rows(_section(page, "alerts"))
    got = [(r[1], r[2], r[3], r[8], r[9]) for r in rows]
    assert got == [
        ("A", "2024-03-01 05:00", "2024-03-01 06:00", "—", "false alarm"),
        ("B", "2024-03-01 10:00", "2024-03-01 10:00", "—", "false alarm"),
        ("A", "2024-03-02 01:00", "2024-03-02 02:00", "5.0 h", "detected failure"),
        ("A", "2024-03-02 04:00", "2024-03-02 04:00", "2.0 h", "repeat before failure"),
        ("A", "2024-03-02 22:00", "2024-03-02 23:00", "—", "unconfirmed"),
    ]
    zh = _rows(_section(page, "alerts", "zh"))
    assert [r[9] for r in zh] == ["误报", "误报", "检出故障", "故障前重复报警", "未确认"]
    failures = _rows(_section(page, "failures"))
    assert failures == [["A", "2024-03-02 06:00", "bearing", "bearing_wear", "5.0 h ahead", "bearing_wear ✓ right"]]


def test_alerts_add_up_to_the_early_warning_figures(case: Evaluation) -> None:
    model = build_model(case, "hand-made")
    series = pd.DataFrame(
        {
            "asset_id": case.output.asset_ids,
            "ts": pd.to_datetime(case.output.anchors, utc=True),
            "alert": case.output.alerts[:, 0],
        }
    )
    report = evaluate_early_warning(series, case.failures, pd.Timedelta(hours=HORIZON))
    assert sum(a.outcome in ("detected", "repeat") for a in model.alerts) == report.n_true_episodes == 2
    assert sum(a.false_alarms for a in model.alerts) == report.n_false_alarms == 3
    assert sum(a.detected[0] for a in model.assets) == report.n_detected == 1
    assert [w.lead_hours for r in model.failures for w in r.warnings] == [report.lead_time_hours_median]


def test_a_long_false_alarm_counts_once_per_horizon() -> None:
    evaluation = _evaluation({"A": list(range(2, 16))}, {"A": [40.0]})  # 13 h standing alarm, no failure after it
    model = build_model(evaluation, "x")
    (alert,) = model.alerts
    assert (alert.outcome, alert.steps, alert.false_alarms) == ("false_alarm", 14, 1 + 13 // 6)
    assert model.assets[0].false_alarms == (3,) and evaluation.metrics["early_warning"]["6h"]["n_false_alarms"] == 3


def test_undefined_figures_show_their_reason(case: Evaluation, tmp_path: Path) -> None:
    metrics = json.loads(json.dumps(case.metrics))
    metrics["failure_within"]["6h"]["auroc"] = None
    metrics["undefined"]["failure_within.6h.auroc"] = "a reason made up by this test"
    evaluation = Evaluation(metrics, case.output, case.labels, case.failures)
    rows = {row.name: row.text for row in summary_rows(metrics)}
    assert rows["failure within 6 h: AUROC"] == "undefined (a reason made up by this test)"
    _, report = write_report(evaluation, tmp_path, "x")
    quality = _rows(_section(report.read_text(encoding="utf-8"), "quality"))
    assert ["failure within 6 h: AUROC", "undefined (a reason made up by this test)"] in quality
    for path, reason in metrics["undefined"].items():
        assert figure(metrics, path).reason == reason  # every undefined figure carries its reason


@pytest.mark.parametrize("value", [None, float("nan")])
def test_undefined_without_a_recorded_reason(case: Evaluation, value: float | None) -> None:
    metrics = {**case.metrics, "undefined": {}}
    metrics["rul"] = {**metrics["rul"], "mae_hours": value}
    rows = {row.name: row.text for row in summary_rows(metrics)}
    assert rows["RUL MAE (h)"] == "undefined (no reason recorded)"
    assert rows["windows"] == "96" and rows["early warning 6 h: detection rate"] == "1.000"
    del metrics["undefined"]
    assert {row.name: row.text for row in summary_rows(metrics)}["RUL MAE (h)"] == "undefined (no reason recorded)"


def test_no_failure_is_said_in_words(tmp_path: Path) -> None:
    evaluation = _evaluation({"A": [], "B": []}, {})
    _, report = write_report(evaluation, tmp_path, "quiet plant")
    page = report.read_text(encoding="utf-8")
    overview = _section(page, "overview")
    assert "The evaluated assets hold no failure, so" in overview
    assert "No alert was raised" in _section(page, "alerts")
    assert "No failure is recorded" in _section(page, "failures")
    quality = _section(page, "quality")
    assert "neither curve is defined" in quality and "no lead time to show" not in quality
    assert "评估的设备中没有故障" in _section(page, "overview", "zh")
    assert 'class="failure"' not in _section(page, "timelines")  # no failure marked on a timeline
    assert _section(page, "timelines").count('<svg class="chart"') == 2


def test_reasons_for_undefined_figures_are_in_chinese_too(case: Evaluation, tmp_path: Path) -> None:
    quiet = _evaluation({"A": [], "B": []}, {})
    one_state = _evaluation({"A": [3]}, {"A": [12.0]}, hours=10)  # every known window precedes the failure
    reasons = {r for e in (case, quiet, one_state) for r in e.metrics["undefined"].values()}
    assert len(reasons) >= 8
    zh = Translator("zh")
    assert {r for r in reasons if not re.search(r"[\u4e00-\u9fff]", zh.reason(r))} == set()
    assert Translator("en").reason("the evaluated windows are all healthy") == "the evaluated windows are all healthy"
    _, report = write_report(quiet, tmp_path, "x")
    overview = _section(report.read_text(encoding="utf-8"), "overview", "zh")
    assert "未定义" in overview and "没有可检出的故障，因此没有提前量" in overview


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    english, chinese = CATALOGUES["en"], CATALOGUES["zh"]
    assert set(english) == set(chinese)

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert {k: fields(v) for k, v in english.items()} == {k: fields(v) for k, v in chinese.items()}
    assert all(v.strip() for catalogue in (english, chinese) for v in catalogue.values())


def test_every_word_of_each_language_comes_from_its_catalogue(case: Evaluation, tmp_path: Path) -> None:
    _, report = write_report(case, tmp_path, "hand-made", lang="zh")
    page = report.read_text(encoding="utf-8")
    bodies = dict(re.findall(r'<main class="lang" data-lang="(\w+)"[^>]*>(.*?)</main>', page, re.S))
    assert set(bodies) == {"en", "zh"}
    assert '<main class="lang" data-lang="en" lang="en" hidden>' in page  # zh opens first
    han = re.compile(r"[\u4e00-\u9fff]")
    assert not han.search(bodies["en"])
    visible_zh = unescape(re.sub(r"<[^>]+>", " ", bodies["zh"]))
    for word in ("概览", "报警", "故障", "阈值", "未确认", "提前 5.0 小时"):
        assert word in visible_zh
    assert "Alerts" not in visible_zh and "false alarm" not in visible_zh


def test_the_page_fetches_nothing(case: Evaluation, tmp_path: Path) -> None:
    _, report = write_report(case, tmp_path, "x")
    page = report.read_text(encoding="utf-8")
    assert "<link" not in page and "@import" not in page and "url(" not in page
    for target in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert target.startswith("#"), target
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}  # the SVG namespace


def test_metrics_json_is_strict_json(case: Evaluation, tmp_path: Path) -> None:
    metrics = {**case.metrics, "extra": {"nan": float("nan"), "numpy": np.float32(0.5), "count": np.int64(3)}}
    path, _ = write_report(Evaluation(metrics, case.output, case.labels, case.failures), tmp_path, "x")
    written = json.loads(path.read_text(encoding="utf-8"), parse_constant=pytest.fail)
    assert written["extra"] == {"nan": None, "numpy": 0.5, "count": 3}


def test_lookup_reads_keys_that_hold_dots() -> None:
    metrics = {"failure_within": {"0.5h": {"auroc": 0.7}, "0": {"x": 1}}}
    assert lookup(metrics, "failure_within.0.5h.auroc") == 0.7
    assert lookup(metrics, "failure_within.2h.auroc") is None


@pytest.mark.parametrize(
    ("low", "high", "labels"),
    [
        (0.53, 0.69, ["0.50", "0.55", "0.60", "0.65", "0.70"]),
        (0, 168, ["0", "50", "100", "150", "200"]),
        (0.3, 0.3, ["0.26", "0.28", "0.30", "0.32", "0.34"]),  # a constant is widened to be seen
        (0, 2.5, ["0", "1", "2", "3"]),
        (0.02, 0.11, ["0.000", "0.025", "0.050", "0.075", "0.100", "0.125"]),
    ],
)
def test_axes_fit_their_data(low: float, high: float, labels: list[str]) -> None:
    start, stop, ticks = nice_bounds(low, high, count=4)
    assert start <= low and stop >= high and stop - start < 2 * max(high - low, 0.1)
    assert [tick_label(v, ticks) for v in ticks] == labels


def test_time_ticks_are_round_utc_times() -> None:
    start = int(pd.Timestamp("2024-01-01 12:00", tz="UTC").value // 1000)
    ticks = time_ticks(start, start + 23 * 24 * 3_600_000_000, count=12)
    assert ticks[0][1] == "2024-01-02" and [label for _, label in ticks[1:3]] == ["01-04", "01-06"]
    hourly = time_ticks(start, start + 10 * 3_600_000_000, count=6)
    assert [label for _, label in hourly] == ["2024-01-01 12:00", "14:00", "16:00", "18:00", "20:00", "22:00"]


def test_report_of_a_real_evaluation(trained_bundle: Path, small_plant: Path, tmp_path: Path) -> None:
    evaluation = evaluate_bundle(trained_bundle, small_plant, split="val", ablation=False)
    model = build_model(evaluation, "real")
    for h, hours in enumerate(model.horizons_hours):
        figures = evaluation.metrics["early_warning"][f"{hours:g}h"]
        assert sum(a.counted[h] for a in model.assets) == figures["n_failures"] == len(evaluation.failures)
        assert sum(a.detected[h] for a in model.assets) == figures["n_detected"]
        assert sum(a.false_alarms[h] for a in model.assets) == figures["n_false_alarms"]
        alert_steps = sum(a.steps for a in model.alerts if a.horizon_hours == hours)
        assert alert_steps == int(evaluation.output.alerts[:, h].sum())
    _, report = write_report(evaluation, tmp_path, "real")
    page = report.read_text(encoding="utf-8")
    assert len(_rows(_section(page, "alerts"))) == len(model.alerts)
    assert len(_rows(_section(page, "failures"))) == len(evaluation.failures) > 0
    assert _section(page, "timelines").count('<svg class="chart"') == len(set(evaluation.output.asset_ids))


def test_evaluate_prints_undefined_figures_with_their_reason(
    trained_bundle: Path, small_plant: Path, tmp_path: Path
) -> None:
    result = run_cli("evaluate", trained_bundle, small_plant, "--out", tmp_path / "eval", "--no-ablation")
    assert result.exit_code == 0, result.output
    rows = summary_rows(json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8")))
    assert any(not row.figure.defined for row in rows)  # the small plant's test asset holds no failure
    for row in rows:
        assert re.search(rf"│ {re.escape(row.name)}\s*│ {re.escape(row.text)}\s*│", result.output), row
    assert "undefined (" in result.output and "│ -" not in result.output
