"""Similar past cases in a diagnosis, the HTML card, and ``omnimaint diagnose --format html`` writing it safely:
on the tiny bundle with the small plant's case base."""

from __future__ import annotations

import copy
import json
import re
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis import Diagnosis, diagnose
from omnimaint.diagnosis.baseline import read_windows
from omnimaint.diagnosis.card import GENERATOR, render_card
from omnimaint.diagnosis.card_words import CARD_WORDS
from omnimaint.diagnosis.cases import CaseBase
from omnimaint.diagnosis.similar import past_cases
from omnimaint.diagnosis.summary import describe
from omnimaint.inference.predictor import Predictor
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli


def _before_last_failure(plant: Dataset) -> tuple[str, pd.Timestamp]:
    """A pump 12 h before its last failure: late in the data, so earlier failures are past cases."""
    failures = plant.table("failures").merge(plant.table("assets")[["asset_id", "asset_type"]], on="asset_id")
    row = failures[failures["asset_type"] == "centrifugal_pump"].sort_values("ts").iloc[-1]
    return str(row["asset_id"]), pd.Timestamp(row["ts"]).floor("h") - pd.Timedelta(hours=12)


@pytest.fixture(scope="module")
def predictor(cased: tuple[Path, CaseBase]) -> Predictor:
    return Predictor.from_bundle(cased[0], threads=1)


@pytest.fixture(scope="module")
def plant(small_plant: Path) -> Dataset:
    return Dataset(small_plant)


@pytest.fixture(scope="module")
def diagnosis(predictor: Predictor, plant: Dataset) -> Diagnosis:
    asset, at = _before_last_failure(plant)
    return diagnose(predictor, plant, asset, at)


def test_the_nearest_past_cases_are_the_case_bases_by_fused_state(
    diagnosis: Diagnosis, predictor: Predictor, plant: Dataset, cased: tuple[Path, CaseBase]
) -> None:
    _, case_base = cased
    at = pd.Timestamp(diagnosis.at)
    assert diagnosis.past.unavailable is None and 2 <= len(diagnosis.past.cases) <= 5
    window = read_windows(predictor, plant, diagnosis.asset_id, np.array([at.value // 1000])).batch(np.array([0]))
    expected = case_base.similar_cases(predictor.fused_state(window)[0], 5, asset_type="centrifugal_pump", before=at)
    assert [c.case_id for c in diagnosis.past.cases] == [m.case.case_id for m in expected]
    by_id = {c.case_id: c for c in case_base.cases}
    assert all(pd.Timestamp(by_id[c.case_id].opened) < at for c in diagnosis.past.cases)  # no case from the future
    similarities = [c.similarity for c in diagnosis.past.cases]
    assert similarities == sorted(similarities, reverse=True)
    voted = [case_id for s in diagnosis.past.suggestions for case_id in s.case_ids]
    assert len(voted) == len(set(voted)) and {c.case_id for c in diagnosis.past.cases} <= set(voted)
    for s in diagnosis.past.suggestions:
        assert s.held + s.failed_again + s.unknown == len(s.case_ids)
        assert {by_id[i].action_group for i in s.case_ids} == {case_base.actions.index(s.action)}
    data = json.loads(diagnosis.to_json())
    assert data["past"]["cases"][0]["case_id"] == diagnosis.past.cases[0].case_id
    assert data["past"]["suggestions"][0]["case_ids"] == list(diagnosis.past.suggestions[0].case_ids)
    text = describe(diagnosis)
    assert "similar past cases (by fused state" in text and diagnosis.past.suggestions[0].action in text


def test_without_a_fused_state_the_diagnosis_says_why(
    predictor: Predictor, plant: Dataset, cased: tuple[Path, CaseBase]
) -> None:
    onnx_like = copy.copy(predictor)
    onnx_like.backend = "onnx"  # what fused_state checks: an ONNX graph returns only the heads' outputs
    window = read_windows(predictor, plant, "P001", np.array([plant.table("telemetry")["ts"].max().value // 1000]))
    past = past_cases(onnx_like, window.batch(np.array([0])), cased[1], asset_type="x", before=pd.Timestamp.now())
    assert past.cases == () and past.unavailable is not None and "backend='torch'" in past.unavailable
    early = past_cases(predictor, window.batch(np.array([0])), cased[1], asset_type="x", before=pd.Timestamp(0))
    assert early.unavailable is not None and "no case of the case base was opened before" in early.unavailable


def test_both_languages_of_the_card_hold_the_same_words() -> None:
    english, chinese = CARD_WORDS["en"], CARD_WORDS["zh"]
    assert set(english) == set(chinese)

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert all(fields(english[k]) == fields(chinese[k]) for k in english)


def test_the_card_is_one_self_contained_page_with_every_piece_of_evidence(diagnosis: Diagnosis) -> None:
    page = render_card(diagnosis, "zh")
    assert f'<meta name="generator" content="{GENERATOR}">' in page
    external = re.findall(r'(?:src|href)="(?!data:|#)([^"]*)"', page)
    assert external == []  # nothing fetched: images are data: URLs, links are in-page
    assert re.findall(r"https?://", page) == ["http://"] * page.count("<svg")  # only the SVG namespace
    assert 'data-lang="zh" lang="zh-CN">' in page and 'data-lang="en" lang="en" hidden' in page  # opens in Chinese
    for body in ('data-lang="en"', 'data-lang="zh"'):
        main = page[page.index(body) : page.index("</main>", page.index(body))]
        assert main.count("<h2>") == 8 and main.count("<svg") >= 2 + len(diagnosis.spectra)
        assert diagnosis.past.cases[0].case_id in main and diagnosis.past.suggestions[0].action.split()[0] in main
        assert diagnosis.telemetry is not None and diagnosis.telemetry.channels[0].channel in main
        assert re.search(r'<img class="heatmap" src="data:image/png;base64,[^"]+" alt="[^"]+">', main)
        assert '<th scope="col">' in main and "BPFO" in main
    assert "相似的历史案例" in page and "Similar past cases" in page and "建议措施" in page


def test_cli_writes_the_card_and_never_replaces_what_it_did_not_write(
    cased: tuple[Path, CaseBase], small_plant: Path, plant: Dataset, tmp_path: Path
) -> None:
    bundle, _ = cased
    asset, at = _before_last_failure(plant)
    args = ("diagnose", bundle, small_plant, "-a", asset, "--at", at.isoformat(), "-f", "html", "--lang", "zh")
    card, maps = tmp_path / "card.html", tmp_path / "maps"
    result = run_cli(*args, "-o", card, "--heatmaps", maps)
    assert result.exit_code == 0, result.output
    page = card.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and 'data-lang="zh" lang="zh-CN">' in page
    assert (maps / f"{asset}-cam0.png").read_bytes().startswith(b"\x89PNG")
    assert_refused(run_cli(*args, "-o", card), Snapshot.of(tmp_path), "already exists; use --overwrite")
    mine = tmp_path / "notes.html"
    mine.write_text("my notes", encoding="utf-8")
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli(*args, "-o", mine, "--overwrite"), before, "is not a diagnosis omnimaint wrote")
    (maps / f"{asset}-cam0.png").write_text("a photo of mine", encoding="utf-8")
    before = Snapshot.of(tmp_path)
    refused = run_cli(*args, "-o", tmp_path / "new.html", "--heatmaps", maps, "--overwrite")
    assert_refused(refused, before, "is not a heat map omnimaint wrote")
    (maps / f"{asset}-cam0.png").unlink()
    replaced = run_cli(*args, "-o", card, "--overwrite", "--lang", "en")
    assert replaced.exit_code == 0, replaced.output
    assert 'data-lang="en" lang="en">' in card.read_text(encoding="utf-8")  # replaced: now opens in English


def test_cards_of_many_moments_are_files_named_by_asset_and_time(
    predictor: Predictor, plant: Dataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from omnimaint.diagnosis.card_files import card_name, write_cards

    asset, at = _before_last_failure(plant)
    written = write_cards(predictor, plant, [(asset, at, 0), (asset, at, 1), ("NOPE", at, 0)], tmp_path / "cards")
    assert list(written) == [(asset, at)] and "no diagnosis card for NOPE" in caplog.text  # skipped, said
    assert written[(asset, at)] == tmp_path / "cards" / card_name(asset, at)
    assert card_name("line 3/pump:7", pd.Timestamp("2024-01-14 12:00")) == "line_3_pump_7-20240114T1200Z.html"
    assert GENERATOR in written[(asset, at)].read_text(encoding="utf-8")
