"""``diagnose``: the evidence behind the model's assessment of one asset at one time (issue 19); and the
cards ``evaluate`` links from report.html (:func:`evaluation_cards`).

Writes text, JSON or the HTML card (:mod:`omnimaint.diagnosis.card`) to stdout or ``--out``, and the frame
heat maps to ``--heatmaps``. Like every omnimaint output, a file that is already there is replaced only with
``--overwrite`` and only when it is a diagnosis (or heat map) omnimaint wrote (:mod:`omnimaint.atomic.files`);
every target is checked before the diagnosis runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from omnimaint.atomic.files import check_file, head, write_file
from omnimaint.cli.app import BundleArg, DatasetArg
from omnimaint.cli.output import console, reports_errors
from omnimaint.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from omnimaint.evaluation.model_eval import Evaluation

commands = typer.Typer()

FORMATS = ("text", "json", "html")
_TEXT_HEADER = re.compile(rb"^\S+ \([^)\n]*\) at \d{4}-\d\d-\d\d \d\d:\d\d UTC\n")
_JSON_FIELDS = {"asset_id", "at", "failure_probability", "baseline", "past"}
_PNG = b"\x89PNG\r\n\x1a\n"


def _is_diagnosis(path: Path) -> bool:
    """Whether ``path`` holds a diagnosis as ``omnimaint diagnose`` writes it, in any of its formats."""
    from omnimaint.atomic.kinds import read_json
    from omnimaint.diagnosis.card import GENERATOR

    start = head(path)
    if f'<meta name="generator" content="{GENERATOR}">'.encode() in start or _TEXT_HEADER.match(start):
        return True
    content = read_json(path)
    return isinstance(content, dict) and set(content) >= _JSON_FIELDS


def _is_png(path: Path) -> bool:
    return head(path, len(_PNG)) == _PNG


@commands.command()
@reports_errors
def diagnose(
    bundle: BundleArg,
    dataset: DatasetArg,
    asset: Annotated[str, typer.Option("--asset", "-a", help="Asset to diagnose.", show_default=False)],
    at: Annotated[
        str, typer.Option("--at", help="Time diagnosed, ISO-8601 (UTC when no offset is given).", show_default=False)
    ],
    output_format: Annotated[str, typer.Option("--format", "-f", help="text, json or html (the card).")] = "text",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the diagnosis to this file instead of stdout.")
    ] = None,
    heatmaps: Annotated[
        Path | None,
        typer.Option(
            "--heatmaps",
            help="Folder for the frame heat-map overlays (ASSET-CAMERA.png; also ASSET-CAMERA-patchcore.png when "
            "the bundle has a PatchCore frame anomaly).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a diagnosis or heat map omnimaint wrote (never anything else).")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language the card opens in: en or zh (it has a switch).")] = "en",
    horizon: Annotated[int, typer.Option(help="Index of the horizon whose failure probability is explained.")] = 0,
) -> None:
    """Diagnose an asset at a time: likely fault, RUL, and the channels, time ranges, vibration bands, frame
    regions and log lines that drive its failure probability, with the similar past cases and what fixed them."""
    from omnimaint.data.dataset import Dataset
    from omnimaint.diagnosis import diagnose as run_diagnosis
    from omnimaint.diagnosis.card import render_card
    from omnimaint.diagnosis.summary import describe
    from omnimaint.evaluation.report.i18n import LANGUAGES
    from omnimaint.inference.predictor import Predictor

    if output_format not in FORMATS:
        raise ConfigError(f"--format must be text, json or html, not {output_format!r}")
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang must be en or zh, not {lang!r}")
    if output_format == "html" and out is None:
        raise ConfigError("--format html writes a page: give --out FILE.html")
    if out is not None:
        check_file(out, "a diagnosis", _is_diagnosis, overwrite=overwrite)
    if heatmaps is not None and heatmaps.exists() and (heatmaps.is_symlink() or not heatmaps.is_dir()):
        raise ConfigError(f"--heatmaps {heatmaps}: is not a folder; give a folder for the heat-map PNGs")
    predictor = Predictor.from_bundle(bundle)
    if heatmaps is not None:  # the names depend on the bundle's cameras: check them all before any work
        patchcore = ("", "-patchcore") if predictor.frame_anomaly is not None else ("",)
        for camera in predictor.bundle.preprocessor.vocab.cameras:
            for suffix in patchcore:
                check_file(heatmaps / f"{asset}-{camera}{suffix}.png", "a heat map", _is_png, overwrite=overwrite)
    diagnosis = run_diagnosis(predictor, Dataset(dataset), asset, at, horizon=horizon)
    if output_format == "html":
        text = render_card(diagnosis, lang)
    else:
        text = diagnosis.to_json() + "\n" if output_format == "json" else describe(diagnosis) + "\n"
    if heatmaps is not None:
        for frame in diagnosis.frames:
            write_file(heatmaps / f"{asset}-{frame.camera}.png", frame.overlay_png)
            if frame.anomaly is not None:
                write_file(heatmaps / f"{asset}-{frame.camera}-patchcore.png", frame.anomaly.overlay_png)
    if out is None:
        console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        return
    write_file(out, text.encode("utf-8"))
    console.print(f"wrote {out}", markup=False, highlight=False, soft_wrap=True)


def evaluation_cards(
    evaluation: Evaluation,
    bundle: Path,
    dataset: Path,
    folder: Path,
    backend: str,
    public_key: Path | None,
    progress: bool,
) -> dict[tuple[str, pd.Timestamp], str]:
    """Write the diagnosis card of the first warning before each detected failure into ``folder/cards``; returns
    each failure's link for report.html. The evaluation package does not import the diagnosis one (which draws
    its cards with the report's kit), so the two meet here."""
    from omnimaint.data.dataset import Dataset
    from omnimaint.diagnosis.card_files import write_cards
    from omnimaint.evaluation.report import warned_failures
    from omnimaint.inference.predictor import Backend, Predictor

    warned = warned_failures(evaluation)
    if not warned:
        return {}
    predictor = Predictor.from_bundle(bundle, cast("Backend", backend), public_key=public_key)
    moments = [(w.asset, w.first_warning, w.horizon) for w in warned]
    written = write_cards(predictor, Dataset(dataset), moments, folder / "cards", progress=progress)
    return {
        (w.asset, w.failure_at): f"cards/{written[(w.asset, w.first_warning)].name}"
        for w in warned
        if (w.asset, w.first_warning) in written
    }
