"""The PatchCore frame anomaly in a diagnosis: the map of the newest frame beside the occlusion heat map, its
score, and both on the card in English and Chinese."""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from starlette.requests import Request

from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis import Diagnosis, diagnose
from omnimaint.diagnosis.baseline import read_windows
from omnimaint.diagnosis.card import render_card
from omnimaint.diagnosis.frames import OVERLAY_SCALE, frame_anomaly_evidence
from omnimaint.diagnosis.summary import describe
from omnimaint.inference.predictor import Predictor
from omnimaint.service.ui import charts
from omnimaint.service.ui.templating import Pages
from tests.unit.bad_inputs.harness import run_cli


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.fixture(scope="module")
def predictor(patchcore_bundle: Path) -> Predictor:
    return Predictor.from_bundle(patchcore_bundle, threads=1)


@pytest.fixture(scope="module")
def plant(small_plant: Path) -> Dataset:
    return Dataset(small_plant)


@pytest.fixture(scope="module")
def diagnosis(predictor: Predictor, plant: Dataset) -> Diagnosis:
    """A pump 12 h before its last failure, whose window holds a frame."""
    failures = plant.table("failures").merge(plant.table("assets")[["asset_id", "asset_type"]], on="asset_id")
    row = failures[failures["asset_type"] == "centrifugal_pump"].sort_values("ts").iloc[-1]
    at = pd.Timestamp(row["ts"]).floor("h") - pd.Timedelta(hours=12)
    return diagnose(predictor, plant, str(row["asset_id"]), at, case_base=None)


def test_the_frame_evidence_carries_the_patchcore_map_of_the_newest_frame(
    diagnosis: Diagnosis, predictor: Predictor, plant: Dataset
) -> None:
    assert len(diagnosis.frames) == 1
    evidence = diagnosis.frames[0]
    anomaly = evidence.anomaly
    assert anomaly is not None
    at = pd.Timestamp(diagnosis.at)
    window = read_windows(predictor, plant, diagnosis.asset_id, np.array([at.value // 1000])).batch(np.array([0]))
    scores = predictor.frame_anomaly_scores(window, maps=True)
    assert scores.maps is not None
    assert anomaly.raw == pytest.approx(scores.raw[0, 0])
    assert anomaly.score == pytest.approx(anomaly.raw / anomaly.reference)
    assert diagnosis.frame_anomaly == pytest.approx(anomaly.score)
    assert predictor.frame_anomaly is not None and anomaly.reference == predictor.frame_anomaly.settings.reference[0]
    assert anomaly.peak == tuple(np.unravel_index(int(np.argmax(scores.maps[0, 0])), (32, 32)))
    assert _png_size(anomaly.overlay_png) == (32 * OVERLAY_SCALE, 32 * OVERLAY_SCALE)  # upsampled to the frame
    data = json.loads(diagnosis.to_json())
    assert base64.b64decode(data["frames"][0]["anomaly"]["overlay_png"]) == anomaly.overlay_png
    assert "PatchCore anomaly" in describe(diagnosis) and "frame anomaly" in describe(diagnosis)


def test_the_overlay_is_red_where_the_map_passes_half_the_reference() -> None:
    frame = np.full((16, 16, 3), 128, dtype=np.uint8)
    heat = np.zeros((16, 16), dtype=np.float32)
    heat[4:8, 10:14] = 3.0  # 1.5 times the reference of 2: full red
    heat[12:, :4] = 0.9  # below half the reference: clear
    evidence = frame_anomaly_evidence(frame, heat, raw=3.0, reference=2.0)
    assert evidence.score == 1.5 and evidence.peak == (4, 10)
    image = np.asarray(Image.open(io.BytesIO(evidence.overlay_png)).convert("RGB")).astype(int)
    s = OVERLAY_SCALE
    assert image[5 * s, 11 * s, 0] > image[5 * s, 11 * s, 1] + 100  # red over the anomaly
    assert tuple(image[13 * s, 1 * s]) == (128, 128, 128) and tuple(image[0, 0]) == (128, 128, 128)


def test_the_card_shows_the_map_and_its_score_in_both_languages(diagnosis: Diagnosis) -> None:
    anomaly = diagnosis.frames[0].anomaly
    assert anomaly is not None
    page = render_card(diagnosis, "en")
    source = "data:image/png;base64," + base64.b64encode(anomaly.overlay_png).decode("ascii")
    for body, words in (('data-lang="en"', "PatchCore anomaly"), ('data-lang="zh"', "PatchCore 异常度")):
        main = page[page.index(body) : page.index("</main>", page.index(body))]
        assert main.count('<figure class="frame-anomaly">') == 1 and source in main
        assert words in main and f"{anomaly.score:.2f}" in main
    assert "frame anomaly" in page and "画面异常度" in page


def test_cli_writes_the_patchcore_overlay_beside_the_occlusion_one(
    diagnosis: Diagnosis, patchcore_bundle: Path, small_plant: Path, tmp_path: Path
) -> None:
    maps = tmp_path / "maps"
    args = ("diagnose", patchcore_bundle, small_plant, "-a", diagnosis.asset_id, "--at", diagnosis.at)
    result = run_cli(*args, "--heatmaps", maps)
    assert result.exit_code == 0, result.output
    assert "PatchCore anomaly" in result.output
    occlusion, patchcore = maps / f"{diagnosis.asset_id}-cam0.png", maps / f"{diagnosis.asset_id}-cam0-patchcore.png"
    assert _png_size(occlusion.read_bytes()) == _png_size(patchcore.read_bytes()) == (128, 128)


@pytest.mark.parametrize(("language", "words"), [("en", "PatchCore anomaly"), ("zh-CN", "PatchCore 异常度")])
def test_the_dashboards_diagnosis_shows_the_map_too(diagnosis: Diagnosis, language: str, words: str) -> None:
    anomaly = diagnosis.frames[0].anomaly
    assert anomaly is not None
    scope = {"type": "http", "path": "/ui/alarms/1/diagnosis", "headers": [(b"accept-language", language.encode())]}
    request = Request(scope)
    pages = Pages()
    context = {"d": diagnosis, "charts": charts.evidence_charts(diagnosis, pages.words(request).gettext), "user": None}
    html = pages.text(request, "_diagnosis.html", context)
    assert base64.b64encode(anomaly.overlay_png).decode("ascii") in html
    assert words in html and html.count('<figure class="heatmap">') == 2
