"""Frame preparation options of the preprocessor (grey levels, contrast normalisation) and the eight dihedral
views of a frame (training augmentation, test-time averaging)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import MODALITIES, Batch, Labels
from omnimaint.models.config import FramePreprocessing
from omnimaint.models.frame_views import N_VIEWS, dihedral_view, random_dihedral_views
from omnimaint.models.preprocessing import LUMA, Preprocessor, PreprocessorState

MEAN = (0.4, 0.5, 0.6)
STD = (0.2, 0.25, 0.3)


def _batch(frames: np.ndarray, mask: np.ndarray) -> Batch:
    """A batch of frames (B, K, 1, S, S, 3) uint8 and nothing else."""
    size = frames.shape[0]
    zeros = np.zeros((size, 1), dtype=np.float32)
    labels = Labels(
        failure_within=zeros,
        failure_within_known=zeros,
        component_failure_within=np.zeros((size, 1, 0), dtype=np.float32),
        component_failure_within_known=np.zeros((size, 1, 0), dtype=np.float32),
        rul_hours=np.zeros(size, dtype=np.float32),
        rul_known=np.zeros(size, dtype=np.float32),
        fault_type=np.full(size, -1),
        health_state=np.full(size, -1),
    )
    presence = np.zeros((size, len(MODALITIES)), dtype=bool)
    presence[:, MODALITIES.index("frames")] = mask.any(axis=(1, 2))
    return Batch(
        asset_ids=np.array(["cam"] * size, dtype=object),
        anchors=np.array([pd.Timestamp("2024-01-01").to_datetime64()] * size, dtype="datetime64[us]"),
        asset_type=np.zeros(size, dtype=np.int64),
        presence=presence,
        labels=labels,
        frames=frames,
        frame_mask=mask,
        frame_age_hours=np.zeros(mask.shape[:2], dtype=np.float32),
    )


def _prepared(frames: np.ndarray, mask: np.ndarray, options: FramePreprocessing) -> np.ndarray:
    """What the preprocessor makes of the frames under ``options``: (B, K, 1, 3, S, S)."""
    vocab = Vocabulary(asset_types=("camera",), cameras=("cam0",))
    state = PreprocessorState(vocab=vocab, modalities=("frames",), frame_mean=MEAN, frame_std=STD, frames=options)
    prepared = Preprocessor(state)(_batch(frames, mask)).frames
    assert prepared is not None
    return prepared.numpy()


@pytest.fixture
def frames() -> tuple[np.ndarray, np.ndarray]:
    """Two samples of two slots of colour frames 8 × 8 (values 0-100); sample 1's first slot is empty."""
    pixels = np.random.default_rng(0).integers(0, 101, size=(2, 2, 1, 8, 8, 3)).astype(np.uint8)
    mask = np.ones((2, 2, 1), dtype=bool)
    mask[1, 0, 0] = False
    pixels[1, 0, 0] = 0
    return pixels, mask


def test_by_default_each_colour_is_standardised_by_the_training_statistics(frames: tuple) -> None:
    pixels, mask = frames
    prepared = _prepared(pixels, mask, FramePreprocessing())
    expected = (pixels / 255.0 - np.array(MEAN)) / np.array(STD) * mask[..., None, None, None]
    np.testing.assert_allclose(prepared, np.moveaxis(expected, -1, -3), atol=1e-6)


def test_contrast_normalisation_standardises_each_frame_by_itself(frames: tuple) -> None:
    pixels, mask = frames
    prepared = _prepared(pixels, mask, FramePreprocessing(normalise="frame"))
    present = prepared[mask]  # (present frames, 3, S, S)
    np.testing.assert_allclose(present.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(present.std(axis=(1, 2, 3)), 1.0, atol=1e-5)
    assert not prepared[~mask].any()  # an empty slot stays 0
    # Brighter, higher-contrast lighting of the same surface (2x + 20, still inside uint8) prepares the same.
    relit = (pixels.astype(np.int64) * 2 + 20).astype(np.uint8)
    np.testing.assert_allclose(_prepared(relit, mask, FramePreprocessing(normalise="frame"))[mask], present, atol=1e-5)


def test_grey_frames_are_luma_on_three_equal_channels(frames: tuple) -> None:
    pixels, mask = frames
    prepared = _prepared(pixels, mask, FramePreprocessing(grey=True))
    np.testing.assert_array_equal(prepared[:, :, :, 0], prepared[:, :, :, 1])
    np.testing.assert_array_equal(prepared[:, :, :, 0], prepared[:, :, :, 2])
    luma = pixels / 255.0 @ LUMA  # (B, K, 1, S, S)
    expected = (luma - LUMA @ np.array(MEAN)) / (LUMA @ np.array(STD)) * mask[..., None, None]
    np.testing.assert_allclose(prepared[:, :, :, 0], expected, atol=1e-5)


def test_the_options_are_kept_in_the_state_and_older_states_read_as_defaults() -> None:
    options = FramePreprocessing(grey=True, normalise="frame", test_views="dihedral")
    state = PreprocessorState(vocab=Vocabulary(asset_types=("camera",)), modalities=("frames",), frames=options)
    assert PreprocessorState.model_validate_json(state.model_dump_json()).frames == options
    older = state.model_dump(mode="json")
    del older["frames"]  # a bundle written before the options existed
    assert PreprocessorState.model_validate(older).frames == FramePreprocessing()


def _asymmetric(batch: int = 1) -> torch.Tensor:
    """Frames (batch, 3, 5, 5) with no symmetry of the square: every view differs."""
    return torch.arange(batch * 3 * 25, dtype=torch.float32).reshape(batch, 3, 5, 5) ** 1.5


def test_the_eight_views_are_the_symmetries_of_the_square() -> None:
    frame = _asymmetric()
    views = [dihedral_view(frame, v) for v in range(N_VIEWS)]
    assert torch.equal(views[0], frame)
    keys = {tuple(v.flatten().tolist()) for v in views}
    assert len(keys) == N_VIEWS
    # A group (every view of a view is one of the eight) holding the four rotations and their mirror images.
    for view in views:
        for v in range(N_VIEWS):
            assert tuple(dihedral_view(view, v).flatten().tolist()) in keys
    for turns in range(4):
        rotated = torch.rot90(frame, turns, dims=(-2, -1))
        assert tuple(rotated.flatten().tolist()) in keys
        assert tuple(rotated.flip(-1).flatten().tolist()) in keys
    with pytest.raises(ValueError, match="square"):
        dihedral_view(torch.zeros(2, 3, 4, 5), 1)


def test_random_views_give_each_sample_one_view_drawn_from_the_generator() -> None:
    frames = _asymmetric(64).unsqueeze(1)  # (B, 1 slot, 3, S, S): every slot of a sample turns alike
    drawn = random_dihedral_views(frames, torch.Generator().manual_seed(5))
    chosen = torch.randint(0, N_VIEWS, (64,), generator=torch.Generator().manual_seed(5))
    for sample, view in enumerate(chosen.tolist()):
        assert torch.equal(drawn[sample], dihedral_view(frames[sample], view))
    assert set(chosen.tolist()) == set(range(N_VIEWS))
