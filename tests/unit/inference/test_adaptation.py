"""A bundle adapted to a new operating condition (``omnimaint adapt``, ``Predictor.adapted``): its spectra
standardisers take the statistics of the chosen windows, nothing else of it changes, and it is a bundle like any
other (loaded, checked, exported)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from omnimaint.data import Dataset
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import Predictor
from tests.unit.bad_inputs.harness import run_cli
from tests.unit.training.tiny import tiny_config

STATISTICS = ("standardise.running_mean", "standardise.running_var")


@pytest.fixture(scope="module")
def standardising_bundle(small_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny bundle of the small plant whose waveform encoder standardises its spectra."""
    from omnimaint.training.run import train

    bundle = train(tiny_config(small_plant, tmp_path_factory.mktemp("run"), **{"model.waveform.standardise": True}))
    assert bundle is not None
    return bundle


def _first_assets(plant: Path, n: int) -> list[str]:
    return sorted(Dataset(plant).table("assets")["asset_id"])[:n]


def test_adapt_writes_a_bundle_whose_statistics_alone_changed(
    small_plant: Path, standardising_bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "adapted"
    assets = [arg for asset in _first_assets(small_plant, 2) for arg in ("--asset", asset)]
    adapted = run_cli("adapt", standardising_bundle, small_plant, *assets, "--since", "2024-01-05", "--out", out)
    assert adapted.exit_code == 0, adapted.output
    assert f"wrote {out}" in adapted.output
    before, after = Bundle.load(standardising_bundle), Bundle.load(out)
    changed = {name for name in before.state_dict if not torch.equal(before.state_dict[name], after.state_dict[name])}
    assert changed and all(name.endswith(STATISTICS) for name in changed)
    assert after.metrics["adaptation"]["windows"] > 0 and after.metrics["adaptation"]["from_bundle"] == str(
        standardising_bundle
    )
    assert (after.window, after.preprocessor, after.thresholds) == (
        before.window,
        before.preprocessor,
        before.thresholds,
    )
    # An ordinary bundle: it scores, and exports again.
    predictor = Predictor(after)
    assert len(predictor.predict_windows(predictor.windows(Dataset(small_plant)))) > 0
    assert run_cli("export", out).exit_code == 0


def test_more_windows_with_a_finer_stride(small_plant: Path, standardising_bundle: Path) -> None:
    predictor = Predictor.from_bundle(standardising_bundle)
    plant = Dataset(small_plant)
    coarse, fine = predictor.windows(plant), predictor.windows(plant, stride=pd.Timedelta("3h").to_pytimedelta())
    assert len(fine) > len(coarse)
    for _, anchors in fine.anchors.groupby("asset_id"):  # the grid steps by the stride asked for
        assert set(anchors["ts"].sort_values().diff().dropna()) == {pd.Timedelta("3h")}


def test_adapting_a_bundle_that_standardises_nothing_says_so(
    small_plant: Path, trained_bundle: Path, tmp_path: Path
) -> None:
    refused = run_cli("adapt", trained_bundle, small_plant, "--out", tmp_path / "adapted")
    assert refused.exit_code == 1
    assert "cannot adapt: the model standardises no input to re-estimate" in refused.output
    assert not (tmp_path / "adapted").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday-ish"), "--since 'yesterday-ish': not a time"),
        (("--stride", "soon"), "--stride 'soon': not a duration"),
        (("--since", "2030-01-01"), "the window spec leaves no anchors in split 'adaptation'"),
    ],
)
def test_bad_adaptation_choices_get_one_line(
    small_plant: Path, standardising_bundle: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    refused = run_cli("adapt", standardising_bundle, small_plant, *args, "--out", tmp_path / "adapted")
    assert refused.exit_code == 1 and message in refused.output, refused.output
    assert not (tmp_path / "adapted").exists()
