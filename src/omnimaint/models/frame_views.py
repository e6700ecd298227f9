"""The eight symmetries of the square (flips and transposes) applied to frames.

A frame tensor ends in ``(..., S, S)`` (square frames, as the window spec cuts them). View ``v`` (0-7) is
read bit by bit: bit 0 flips left-right, bit 1 flips up-down, bit 2 transposes; the eight combinations are
the dihedral group of the square (the four rotations, each with and without a mirror), view 0 the frame
itself. Training draws one view per sample (``optim.frame_augmentation``); the Predictor averages over all
eight (``preprocess.frames.test_views``).
"""

from __future__ import annotations

import torch

N_VIEWS = 8


def dihedral_view(frames: torch.Tensor, view: int) -> torch.Tensor:
    """View ``view`` of square frames ``(..., S, S)`` (see the module docstring), contiguous.

    Raises:
        ValueError: if ``view`` is not 0-7 or the frames are not square.
    """
    if not 0 <= view < N_VIEWS:
        raise ValueError(f"a dihedral view is 0-7, got {view}")
    if frames.shape[-1] != frames.shape[-2]:
        raise ValueError(f"dihedral views need square frames, got {tuple(frames.shape[-2:])}")
    if view & 1:
        frames = frames.flip(-1)
    if view & 2:
        frames = frames.flip(-2)
    if view & 4:
        frames = frames.transpose(-1, -2)
    return frames.contiguous()


def random_dihedral_views(frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each sample of ``frames`` ``(B, ..., S, S)`` in one of the eight views, drawn uniformly per sample (every
    frame of a sample in the same view); from ``generator``, or torch's global generator when ``None``."""
    batch = frames.shape[0]
    views = torch.randint(0, N_VIEWS, (batch,), generator=generator).to(frames.device)  # (B,)
    shape = (batch,) + (1,) * (frames.ndim - 1)  # broadcast over every axis but the batch
    out = frames
    for bit, apply in ((1, lambda t: t.flip(-1)), (2, lambda t: t.flip(-2)), (4, lambda t: t.transpose(-1, -2))):
        chosen = (views & bit).bool().view(shape)
        out = torch.where(chosen, apply(out), out)
    return out.contiguous()
