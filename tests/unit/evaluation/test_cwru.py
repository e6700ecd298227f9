"""CWRU protocols: blocks with a gap inside each recording, common sampling rate, cross-load by file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset, write_dataset
from omnimaint.evaluation.protocols import ProtocolError
from omnimaint.evaluation.protocols.cwru import (
    TEN_CLASSES,
    CwruConfig,
    SegmentSet,
    block_bounds,
    cut_segments,
    load_recordings,
    run_cwru,
    within_recording_split,
)
from omnimaint.evaluation.protocols.cwru_cross_load import (
    cross_load_inputs,
    cross_load_splits,
    cross_load_subsets,
    run_cwru_cross_load,
)
from tests.unit.evaluation.canonical import cwru_dataset

CONFIG = CwruConfig(segment_length=512, test_fraction=0.3, gap=1024)


@pytest.fixture(scope="module")
def one_load(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cwru_dataset(tmp_path_factory.mktemp("cwru") / "d", loads=(0,), normal_rate=48_000)


@pytest.fixture(scope="module")
def two_loads(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cwru_dataset(tmp_path_factory.mktemp("cwru2") / "d", loads=(0, 1), n_samples=8192)


class _Memorizer:
    """Remembers training segments by content; predicts 'leak' for any test segment seen in training."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Memorizer:
        self.seen_ = {segment.tobytes() for segment in X}
        self.majority_ = max(set(y.tolist()), key=y.tolist().count)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.array(["leak" if s.tobytes() in self.seen_ else self.majority_ for s in X])


def test_normal_recording_is_resampled_to_the_common_rate(one_load: Dataset) -> None:
    recordings = {r.asset_id: r for r in load_recordings(one_load, CONFIG)}
    assert {r.label for r in recordings.values()} == set(TEN_CLASSES)
    assert {r.sample_rate_hz for r in recordings.values()} == {12_000.0}
    assert len(recordings["Normal_0"].samples) == len(recordings["12k_DE-IR007_0"].samples)


def test_train_and_test_blocks_are_separated_by_the_gap(one_load: Dataset) -> None:
    recordings = load_recordings(one_load, CONFIG)
    train, test = within_recording_split(recordings, CONFIG)
    for asset in {r.asset_id for r in recordings}:
        train_starts = np.sort(train.starts[train.asset_ids == asset])
        test_starts = np.sort(test.starts[test.asset_ids == asset])
        assert train_starts.size and test_starts.size
        # Segments do not overlap within a side, and the last training sample is a gap before the first test one.
        assert np.all(np.diff(train_starts) >= CONFIG.segment_length)
        assert np.all(np.diff(test_starts) >= CONFIG.segment_length)
        assert train_starts.max() + CONFIG.segment_length + CONFIG.gap <= test_starts.min()
    assert train.X.shape[1:] == (1, CONFIG.segment_length)


def test_no_test_segment_content_appears_in_training(one_load: Dataset) -> None:
    result = run_cwru(one_load, lambda seed: _Memorizer(), config=CONFIG)
    assert result.details["per_class_f1"].get("leak") is None
    assert result.metrics["accuracy"] == pytest.approx(1 / len(TEN_CLASSES), abs=0.1)


def test_block_bounds_refuse_a_recording_too_short() -> None:
    assert block_bounds(10_000, CONFIG) == ((0, 10_000 - 3000 - 1024), (7000, 10_000))
    with pytest.raises(ProtocolError, match="too short"):
        block_bounds(1500, CONFIG)


def test_cross_load_with_one_load_says_not_enough_loads(one_load: Dataset) -> None:
    with pytest.raises(ProtocolError, match=r"not enough loads.*only 0 HP"):
        run_cwru_cross_load(one_load, lambda seed: _Memorizer(), config=CONFIG)


def test_cross_load_trains_and_tests_on_different_files(two_loads: Dataset) -> None:
    splits = cross_load_splits(load_recordings(two_loads, CONFIG))
    assert list(splits) == cross_load_subsets(two_loads) == ["0HP", "1HP"]
    for (load, (train, test)), hp in zip(splits.items(), (0.0, 1.0), strict=True):
        assert {r.load_hp for r in train} == {hp}, load
        assert hp not in {r.load_hp for r in test}
        assert {r.asset_id for r in train}.isdisjoint({r.asset_id for r in test})
    result = run_cwru_cross_load(two_loads, lambda seed: _Memorizer(), config=CONFIG)
    assert set(result.details["per_train_load"]) == {"0HP", "1HP"} and "subset" not in result.details


def test_cross_load_runs_one_training_load_as_a_subset(two_loads: Dataset) -> None:
    one = run_cwru_cross_load(two_loads, lambda seed: _Memorizer(), subset="1HP", config=CONFIG)
    assert set(one.details["per_train_load"]) == {"1HP"} and one.details["subset"] == "1HP"
    every = run_cwru_cross_load(two_loads, lambda seed: _Memorizer(), config=CONFIG)
    assert one.details["per_train_load"]["1HP"] == every.details["per_train_load"]["1HP"]
    with pytest.raises(ProtocolError, match=r"no recordings at load '2HP' \(loads: 0HP, 1HP\)"):
        run_cwru_cross_load(two_loads, lambda seed: _Memorizer(), subset="2HP", config=CONFIG)


class _KnowsOneLoad:
    """Knows the class of the segments it is told of, and predicts 'unknown' for every other segment."""

    def __init__(self, known: SegmentSet) -> None:
        self.known = {segment.tobytes(): label for segment, label in zip(known.X, known.y, strict=True)}

    def fit(self, X: np.ndarray, y: np.ndarray) -> _KnowsOneLoad:
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.array([self.known.get(segment.tobytes(), "unknown") for segment in X])


def test_cross_load_scores_each_pair_of_training_and_test_load(tmp_path: Path) -> None:
    three_loads = cwru_dataset(tmp_path / "d", loads=(0, 1, 2), n_samples=4096)
    recordings = [r for r in load_recordings(three_loads, CONFIG) if r.load_hp == 2.0]
    at_2hp = cut_segments(recordings, {r.asset_id: (0, len(r.samples)) for r in recordings}, CONFIG.segment_length)
    result = run_cwru_cross_load(three_loads, lambda seed: _KnowsOneLoad(at_2hp), subset="0HP", config=CONFIG)
    assert result.details["per_pair"] == {"0HP": {"1HP": 0.0, "2HP": 1.0}}
    assert result.metrics["accuracy"] == pytest.approx(0.5)  # both test loads hold as many segments
    assert result.metrics["min_pair_accuracy"] == 0.0
    every = run_cwru_cross_load(three_loads, lambda seed: _KnowsOneLoad(at_2hp), config=CONFIG)
    assert every.details["per_pair"]["1HP"] == {"0HP": 0.0, "2HP": 1.0}
    assert every.details["per_pair"]["2HP"] == {"0HP": 0.0, "1HP": 0.0}


def test_a_cross_load_bundle_never_sees_the_test_loads(two_loads: Dataset) -> None:
    inputs = cross_load_inputs(two_loads, subset="1HP", config=CONFIG)
    at_load = {
        part: {str(a).rsplit("_", 1)[1] for a in inputs[part].anchors["asset_id"]} for part in ("train", "val", "test")
    }
    assert at_load == {"train": {"1"}, "val": {"1"}, "test": {"0"}}
    # Within each training recording, its validation end comes a gap after its training part.
    train, val = inputs["train"].anchors, inputs["val"].anchors
    sample = pd.Timedelta(seconds=1 / 12_000)
    for asset in set(train["asset_id"]):
        last_train, first_val = train[train.asset_id == asset].ts.max(), val[val.asset_id == asset].ts.min()
        assert first_val - last_train >= (CONFIG.gap + CONFIG.segment_length - 1) * sample
    # Every test segment of the other load, each recording whole.
    recordings = [r for r in load_recordings(two_loads, CONFIG) if r.load_hp == 0.0]
    assert len(inputs["test"]) == sum(len(r.samples) // CONFIG.segment_length for r in recordings)


def test_spectral_baseline_separates_the_tones(one_load: Dataset) -> None:
    from omnimaint.baselines import SpectralFeatureClassifier

    result = run_cwru(
        one_load, lambda seed: SpectralFeatureClassifier(n_estimators=50, random_state=seed), config=CONFIG
    )
    assert result.metrics["accuracy"] >= 0.95
    assert result.metrics["n_classes"] == 10


def _without(dataset: Dataset, path: Path, drop: set[str]) -> Dataset:
    """A copy of ``dataset`` without the assets ``drop``."""
    tables = {}
    for name in ("assets", "waveforms", "failures"):
        table = dataset.table(name)
        tables[name] = table[~table["asset_id"].isin(drop)].reset_index(drop=True)
    return write_dataset(path, dataset.manifest.model_copy(update={"tables": {}}), tables)


@pytest.fixture(scope="module")
def normal_at_one_load(two_loads: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Loads 0 and 1 HP, with the normal recording at 0 HP only (as in the shared CWRU data)."""
    return _without(two_loads, tmp_path_factory.mktemp("cwru3") / "d", {"Normal_1"})


def test_cross_load_says_which_classes_it_leaves_out(normal_at_one_load: Dataset) -> None:
    result = run_cwru_cross_load(normal_at_one_load, lambda seed: _Memorizer(), config=CONFIG)
    assert result.details["left_out_classes"] == {"0HP": ["normal"], "1HP": ["normal"]}
    assert result.notes == (
        "class 'normal' is left out of every split: it has recordings at 0 HP only, and a split keeps the classes "
        "present at both its training load and its test loads",
    )
    for scores in result.details["per_train_load"].values():
        assert "normal" not in scores["per_class_f1"]


def test_cross_load_with_every_class_at_every_load_has_no_note(two_loads: Dataset) -> None:
    assert run_cwru_cross_load(two_loads, lambda seed: _Memorizer(), config=CONFIG).notes == ()


def test_recordings_outside_the_classes_and_classes_without_recordings_are_named(
    one_load: Dataset, tmp_path: Path
) -> None:
    nine = CwruConfig(segment_length=512, gap=1024, classes=TEN_CLASSES[:9])
    result = run_cwru(one_load, lambda seed: _Memorizer(), config=nine)
    assert result.notes == ("1 recordings of fault types outside the 9 classes are not used (OR021@6)",)
    fewer = _without(one_load, tmp_path / "d", {"12k_DE-B021_0"})
    missing = run_cwru(fewer, lambda seed: _Memorizer(), config=CONFIG)
    assert missing.notes == ("no 'DE' recording of the classes B021; they are not scored",)
