"""Diagnosis cards written as files, one per (asset, time): what ``omnimaint evaluate`` links from report.html.

Owns the file names (``ASSET-YYYYMMDDTHHMMZ.html``, the asset id made safe for any file system) and the loop:
the bundle's case base is loaded once, each moment is diagnosed through the bundle's predictor and rendered
(:func:`~omnimaint.diagnosis.card.render_card`). A moment that cannot be diagnosed (no data in its window) is
skipped with a warning: the report then shows no link for it, and the evaluation is not lost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis.card import render_card
from omnimaint.diagnosis.evidence import diagnose
from omnimaint.diagnosis.similar import bundle_case_base
from omnimaint.errors import ConfigError
from omnimaint.evaluation.report.i18n import Language
from omnimaint.inference.predictor import Predictor
from omnimaint.progress import track

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def card_name(asset_id: str, at: pd.Timestamp) -> str:
    """The file name of the card of ``asset_id`` at ``at``: ``P001-20240114T1200Z.html``."""
    stamp = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return f"{_UNSAFE.sub('_', asset_id).strip('.') or 'asset'}-{stamp:%Y%m%dT%H%M}Z.html"


def write_cards(
    predictor: Predictor,
    dataset: Dataset,
    moments: Sequence[tuple[str, pd.Timestamp, int]],
    folder: Path,
    *,
    lang: Language = "en",
    progress: bool = False,
) -> dict[tuple[str, pd.Timestamp], Path]:
    """Diagnose each (asset, time, horizon) of ``moments`` and write its card into ``folder`` (created when missing).

    Args:
        predictor: The bundle's predictor.
        dataset: The dataset the moments are in.
        moments: (asset, time, index of the horizon explained); repeats are written once.
        folder: Where the cards go (a folder omnimaint is writing: an evaluation being staged).
        lang: The language the cards open in.
        progress: Show a progress bar.

    Returns:
        The card written for each (asset, time) (a moment that could not be diagnosed has none).
    """
    folder.mkdir(parents=True, exist_ok=True)
    case_base = bundle_case_base(predictor)  # loaded once; without one, each card says the bundle has none
    written: dict[tuple[str, pd.Timestamp], Path] = {}
    for asset_id, at, horizon in track(list(dict.fromkeys(moments)), "diagnosis cards", enabled=progress):
        if (asset_id, at) in written:
            continue
        try:
            diagnosis = diagnose(predictor, dataset, asset_id, at, horizon=horizon, case_base=case_base or "bundle")
        except ConfigError as exc:
            logger.warning("no diagnosis card for %s at %s: %s", asset_id, at.isoformat(), exc)
            continue
        path = folder / card_name(asset_id, at)
        path.write_text(render_card(diagnosis, lang), encoding="utf-8")
        written[(asset_id, at)] = path
    return written
