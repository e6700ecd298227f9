"""``report.html`` and ``metrics.json`` of an evaluation: tables plus ROC/PR curves, RUL scatter,
lead-time histogram and the per-modality ablation, as self-contained inline PNGs."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimaint.evaluation.model_eval import Evaluation


def _figure_to_img(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _curves(evaluation: Evaluation) -> str:
    import matplotlib.pyplot as plt

    output, labels = evaluation.output, evaluation.labels
    figure, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4))
    for h, hours in enumerate(output.horizons_hours):
        known = labels.failure_within_known[:, h] > 0
        truth = labels.failure_within[known, h] > 0
        score = output.failure_probability[known, h]
        if truth.sum() == 0 or truth.all():
            continue
        order = np.argsort(-score, kind="stable")
        hits = truth[order]
        tpr = np.concatenate([[0], np.cumsum(hits) / hits.sum()])
        fpr = np.concatenate([[0], np.cumsum(~hits) / (~hits).sum()])
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        roc.plot(fpr, tpr, label=f"{hours:g} h")
        pr.plot(tpr[1:], precision, label=f"{hours:g} h")
    roc.plot([0, 1], [0, 1], ls=":", c="grey")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC: failure within horizon")
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    roc.legend()
    pr.legend()
    return _figure_to_img(figure)


def _rul_scatter(evaluation: Evaluation) -> str:
    import matplotlib.pyplot as plt

    known = evaluation.labels.rul_known > 0
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.scatter(evaluation.labels.rul_hours[known], evaluation.output.rul_hours[known], s=6, alpha=0.4)
    top = float(max(evaluation.labels.rul_hours[known].max(initial=1), 1))
    axis.plot([0, top], [0, top], ls=":", c="grey")
    axis.set(xlabel="true RUL (h)", ylabel="predicted RUL (h)", title="Remaining useful life")
    return _figure_to_img(figure)


def _lead_times(evaluation: Evaluation) -> str:
    import matplotlib.pyplot as plt

    output = evaluation.output
    figure, axis = plt.subplots(figsize=(5, 4))
    longest = len(output.horizons_hours) - 1
    horizon = pd.Timedelta(hours=output.horizons_hours[longest])
    alerting = output.alerts[:, longest]
    alert_assets = output.asset_ids[alerting]
    alert_times = output.anchors[alerting].astype("datetime64[us]")
    window = np.timedelta64(int(horizon.total_seconds() * 1e6), "us")
    leads = []
    for asset, failed_at in zip(evaluation.failures["asset_id"], evaluation.failures["ts"], strict=True):
        failure = np.datetime64(pd.Timestamp(failed_at).tz_convert(None), "us")
        mine = alert_times[(alert_assets == asset) & (alert_times < failure) & (alert_times >= failure - window)]
        if mine.size:
            leads.append((failure - mine.min()) / np.timedelta64(1, "h"))
    axis.hist(leads, bins=12)
    axis.set(xlabel="lead time (h)", ylabel="detected failures", title=f"Lead time of alerts ({horizon})")
    return _figure_to_img(figure)


def _ablation(metrics: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    ablation = metrics.get("ablation")
    if not ablation:
        return ""
    longest = list(metrics["failure_within"])[-1]
    full = metrics["failure_within"][longest]["auroc"]
    names = list(ablation)
    values = [ablation[m]["failure_auroc"] or math.nan for m in names]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.bar(["all"] + [f"no {m}" for m in names], [full or math.nan, *values])
    axis.set(ylabel=f"AUROC, failure within {longest}", title="Modality ablation (masked at inference)", ylim=(0.4, 1))
    axis.tick_params(axis="x", rotation=30)
    return _figure_to_img(figure)


def _table(rows: list[tuple[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return html.escape(str(value))

    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{cell(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def summary_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """The headline figures as (name, value) rows (also printed by the CLI)."""
    rows: list[tuple[str, Any]] = [("windows", metrics["windows"])]
    for horizon, values in metrics["failure_within"].items():
        rows += [
            (f"failure within {horizon}: AUROC", values["auroc"]),
            (f"failure within {horizon}: average precision", values["average_precision"]),
            (f"failure within {horizon}: alert F1", values["alert_f1"]),
        ]
    if "rul" in metrics:
        rows.append(("RUL MAE (h)", metrics["rul"]["mae_hours"]))
    if "fault_type" in metrics:
        rows.append(("fault type macro-F1", metrics["fault_type"]["macro_f1"]))
        rows.append(("fault type macro-F1 before failure", metrics["fault_type"]["macro_f1_before_failure"]))
    if "health_state" in metrics:
        rows.append(("health state macro-F1", metrics["health_state"]["macro_f1"]))
    if "anomaly" in metrics:
        rows.append(("anomaly AUROC", metrics["anomaly"]["auroc"]))
    for horizon, report in metrics.get("early_warning", {}).items():
        rows += [
            (f"early warning {horizon}: detection rate", report["detection_rate"]),
            (f"early warning {horizon}: median lead time (h)", report["lead_time_hours_median"]),
            (f"early warning {horizon}: false alarms per asset-day", report["false_alarms_per_asset_day"]),
        ]
    return rows


def write_report(evaluation: Evaluation, out: Path, title: str) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``report.html`` into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(evaluation.metrics, indent=2, default=_plain) + "\n", encoding="utf-8")
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2>",
        _table(summary_rows(evaluation.metrics)),
        "<h2>Failure within horizon</h2>",
        _curves(evaluation),
    ]
    if evaluation.metrics.get("rul"):
        sections += ["<h2>Remaining useful life</h2>", _rul_scatter(evaluation)]
    sections += ["<h2>Early warning</h2>", _lead_times(evaluation)]
    if evaluation.metrics.get("ablation"):
        sections += ["<h2>Modality ablation</h2>", _ablation(evaluation.metrics)]
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    )
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style>"
    page = f"<!doctype html><html><head>{head}</head><body>"
    report_path = out / "report.html"
    report_path.write_text(page + "\n".join(sections) + "</body></html>\n", encoding="utf-8")
    return metrics_path, report_path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
