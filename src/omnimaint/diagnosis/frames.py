"""Frame evidence: an occlusion heat map over each camera's frame, as numbers and as a PNG overlay.

The frame is cut into a ``grid`` × ``grid`` lattice of patches; each patch is painted, in every frame slot of
the window, with the same pixels of the asset's healthy baseline frame (the per-pixel median of the newest
frame of each baseline window: the same camera, the same background), or mid-grey without a baseline. The
heat of a patch is the fall in failure probability it causes: a puddle under a pump or a belt running off
track lights up, the background does not. The overlay blends red over the newest frame in proportion to the
positive heat (enlarged ×:data:`OVERLAY_SCALE`, nearest neighbour) and is written with the project's own PNG
encoder.

When the bundle has a frame anomaly component (PatchCore, :mod:`omnimaint.models.frame_anomaly`), each camera's
evidence also carries the PatchCore anomaly map of the newest frame (per pixel, upsampled to the frame) as a
second overlay, and its score: a question of a different kind, "how unlike the healthy frames is each part of
this one", asked without the failure heads. Its red is absolute, not relative to the frame's own maximum: a
pixel is clear below half the camera's reference score (the healthy validation frames' 99th percentile) and
fully red at 1.5 times it, so a healthy frame stays nearly clear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimaint.data.windows import Batch
from omnimaint.diagnosis.occlusion import Edit, Occlusions, Row, Scores
from omnimaint.sim.png import encode_pngs

OVERLAY_SCALE = 4
OVERLAY_ALPHA = 0.6
RED = np.array([255.0, 0.0, 0.0])
ANOMALY_CLEAR, ANOMALY_FULL = 0.5, 1.5
"""The PatchCore overlay's red starts at this share of the reference score and is full at the second."""


@dataclass(frozen=True)
class FrameAnomalyEvidence:
    """The PatchCore anomaly of a camera's newest frame.

    Attributes:
        score: The frame's anomaly divided by the camera's reference (1: the healthy validation frames' 99th
            percentile, or the bundle's quantile).
        raw: The PatchCore score itself (distance to the nearest healthy patch, reweighted).
        reference: The camera's reference score.
        peak: (row, column) pixel of the frame where the map is highest.
        overlay_png: The newest frame with the anomaly map blended in red, PNG bytes.
    """

    score: float
    raw: float
    reference: float
    peak: tuple[int, int]
    overlay_png: bytes


@dataclass(frozen=True)
class FrameEvidence:
    """The heat map of one camera.

    Attributes:
        camera: Camera name.
        frame_time: Time of the newest frame of the window (ISO-8601 UTC).
        grid: Patches per side.
        heat: (grid, grid) fall in failure probability per patch, row-major from the top left.
        hottest: (row, column) of the patch with the largest fall.
        overlay_png: The newest frame with the heat map blended in red, PNG bytes.
        anomaly: The PatchCore anomaly map of the newest frame, when the bundle has the component.
    """

    camera: str
    frame_time: str
    grid: int
    heat: tuple[tuple[float, ...], ...]
    hottest: tuple[int, int]
    overlay_png: bytes
    anomaly: FrameAnomalyEvidence | None = None

    @property
    def peak(self) -> float:
        """The largest fall of any patch."""
        return max(max(row) for row in self.heat)


def red_overlay(frame: np.ndarray, alpha: np.ndarray) -> bytes:
    """``(S, S, 3)`` frame with red blended in by ``alpha`` ``(S, S)`` in [0, 1], enlarged, as PNG bytes."""
    blended = frame.astype(np.float64) * (1 - alpha[..., None]) + RED * alpha[..., None]
    big = np.repeat(np.repeat(blended, OVERLAY_SCALE, axis=0), OVERLAY_SCALE, axis=1)
    return encode_pngs(big.round().clip(0, 255).astype(np.uint8)[None])[0]


def frame_anomaly_evidence(frame: np.ndarray, heat: np.ndarray, raw: float, reference: float) -> FrameAnomalyEvidence:
    """The PatchCore evidence of one frame ``(S, S, 3)`` from its anomaly map ``(S, S)`` and score."""
    share = np.clip((heat / reference - ANOMALY_CLEAR) / (ANOMALY_FULL - ANOMALY_CLEAR), 0, 1)
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return FrameAnomalyEvidence(
        score=raw / reference,
        raw=raw,
        reference=reference,
        peak=(int(peak[0]), int(peak[1])),
        overlay_png=red_overlay(frame, OVERLAY_ALPHA * share),
    )


def grid_for(size: int) -> int:
    """Patches per side: 6 for frames of 24 px and more, fewer (at least 2, 4 px each) for smaller ones.
    (36 re-scorings; an 8 × 8 grid, 64, would cost a diagnosis a third more time for a finer map.)"""
    return max(2, min(6, size // 4))


class FrameOcclusion:
    """Registers the patch occlusions of one camera and reads the heat map back.

    Args:
        window: The diagnosed window (a batch of one).
        baseline: The asset's healthy baseline windows, or ``None``.
        camera: Index of the camera.
        grid: Patches per side (default :func:`grid_for` the frame size).
    """

    def __init__(self, window: Batch, baseline: Batch | None, camera: int, grid: int | None = None) -> None:
        assert window.frames is not None and window.frame_mask is not None
        self.camera = camera
        self.frames = window.frames[0, :, camera]  # (K, S, S, 3)
        self.slots = np.flatnonzero(window.frame_mask[0, :, camera])
        size = self.frames.shape[1]
        self.grid = grid if grid is not None else grid_for(size)
        self.edges = np.linspace(0, size, self.grid + 1).round().astype(int)
        self.fill = np.full(self.frames.shape[1:], 128, dtype=np.uint8)
        if baseline is not None and baseline.frames is not None and baseline.frame_mask is not None:
            newest = [
                baseline.frames[i, np.flatnonzero(baseline.frame_mask[i, :, camera])[-1], camera]
                for i in range(len(baseline))
                if baseline.frame_mask[i, :, camera].any()
            ]
            if newest:
                self.fill = np.median(np.stack(newest), axis=0).astype(np.uint8)

    @property
    def present(self) -> bool:
        return self.slots.size > 0

    def _edit(self, r: int, c: int) -> Edit:
        rows = slice(self.edges[r], self.edges[r + 1])
        cols = slice(self.edges[c], self.edges[c + 1])

        def edit(row: Row) -> None:
            for k in self.slots:
                row["frames"][k, self.camera, rows, cols] = self.fill[rows, cols]

        return edit

    def register(self, occlusions: Occlusions) -> None:
        for r in range(self.grid):
            for c in range(self.grid):
                occlusions.add(("frame", self.camera, r, c), self._edit(r, c))

    def evidence(
        self,
        scores: Scores,
        rows: dict[object, int],
        camera_name: str,
        frame_time: str,
        anomaly: FrameAnomalyEvidence | None = None,
    ) -> FrameEvidence:
        p = scores.failure_probability
        heat = np.array(
            [[p[0] - p[rows[("frame", self.camera, r, c)]] for c in range(self.grid)] for r in range(self.grid)]
        )
        hottest = np.unravel_index(int(np.argmax(heat)), heat.shape)
        return FrameEvidence(
            camera=camera_name,
            frame_time=frame_time,
            grid=self.grid,
            heat=tuple(tuple(float(v) for v in row) for row in heat),
            hottest=(int(hottest[0]), int(hottest[1])),
            overlay_png=self.overlay(heat),
            anomaly=anomaly,
        )

    def overlay(self, heat: np.ndarray) -> bytes:
        """The newest frame with the positive heat in red, enlarged, as PNG bytes."""
        frame = self.frames[self.slots[-1]].astype(np.float64)  # (S, S, 3)
        size = frame.shape[0]
        cell = np.zeros((size, size))
        for r in range(self.grid):
            for c in range(self.grid):
                cell[self.edges[r] : self.edges[r + 1], self.edges[c] : self.edges[c + 1]] = heat[r, c]
        top = cell.max()
        alpha = OVERLAY_ALPHA * np.clip(cell / top, 0, 1) if top > 0 else np.zeros_like(cell)
        return red_overlay(frame, alpha)
