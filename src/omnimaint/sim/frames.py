"""Camera frames: the static scene plus per-frame cues, lighting, people, objects and camera defects.

Rendering is vectorised over a chunk of frames, ``(n, H, W, 3)`` float32 in [0, 1], then quantised to
uint8 and written as PNG (see :mod:`omnimaint.sim.png`). Visual fault cues grow with the
hidden severity: a dark puddle under a leaking pump, reddish discolouration of an overheating
housing and later haze, a worn belt that runs off track and frays. Non-fault content makes the task
honest: day/night lighting and flicker, sensor noise, a status light, foreign objects on conveyors,
people in the safety zone (intruders, and technicians during maintenance), blur and occlusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from omnimaint.sim.clock import Clock, FloatArray, IntArray
from omnimaint.sim.png import encode_pngs
from omnimaint.sim.regimes import BoolArray
from omnimaint.sim.scene import BELT, BELT_MAX_SHIFT, ZONE, ZONE_BORDER, Scene, shape_mask

STATUS_OFF, STATUS_RUN, STATUS_MAINTENANCE, STATUS_ISOLATED = 0, 1, 2, 3
_STATUS_COLOURS = np.array([(0.25, 0.25, 0.25), (0.1, 0.85, 0.2), (1.0, 0.65, 0.0), (0.95, 0.1, 0.1)], dtype=np.float32)
_FRAYED = np.array([0.78, 0.72, 0.58], dtype=np.float32)
_PUDDLE = np.array([0.03, 0.035, 0.05], dtype=np.float32)
_SCORCH = np.array([0.80, 0.22, 0.08], dtype=np.float32)
_HAZE = np.array([0.86, 0.85, 0.84], dtype=np.float32)


@dataclass(frozen=True)
class FrameConditions:
    """What each frame shows (all ``(n,)``).

    Attributes:
        light: Exposure gain (hall lights, daylight, flicker).
        noise: Sensor noise standard deviation on the [0, 1] scale (uniformly distributed noise: a
            quarter of the cost of Gaussian draws, indistinguishable at 8 bits).
        leak: Seal-leak severity (puddle size).
        heat: Overheating severity (discolouration, then haze above 0.75).
        belt: Belt-wear severity (tracking offset and fraying).
        status: Status light: off, running, maintenance, isolated.
        person: A person stands in the safety zone.
        foreign_object: Something lies on the belt (conveyors).
        blur: Motion or focus blur.
        occlusion: Something blocks part of the view.
    """

    light: FloatArray
    noise: FloatArray
    leak: FloatArray
    heat: FloatArray
    belt: FloatArray
    status: IntArray
    person: BoolArray
    foreign_object: BoolArray
    blur: BoolArray
    occlusion: BoolArray

    def __len__(self) -> int:
        return int(self.light.size)

    def take(self, index: slice) -> FrameConditions:
        return FrameConditions(*(getattr(self, f.name)[index] for f in fields(self)))


def lighting(t_s: FloatArray, clock: Clock, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Exposure gain and noise level: hall lights 06-22, daylight through windows, mains flicker."""
    hour = clock.hour_of_day(t_s)
    lights_on = (hour >= 6) & (hour < 22)
    daylight = 0.15 * np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    gain = np.where(lights_on, 0.95, 0.45) + daylight
    gain *= 1 + 0.04 * rng.standard_normal(t_s.size)
    noise = np.where(lights_on, 0.012, 0.03)
    return gain.astype(np.float64), noise.astype(np.float64)


def _draw_belt(img: npt.NDArray[np.float32], scene: Scene, wear: FloatArray) -> None:
    n, size = img.shape[0], scene.size
    frames = np.arange(n)
    shift = np.round(wear**1.2 * BELT_MAX_SHIFT * size).astype(np.int64)  # (n,)
    top, bottom = int(BELT[1] * size), int(BELT[3] * size)
    rows = np.arange(size)[None, :]  # (1, size)
    on_belt = (rows >= top + shift[:, None]) & (rows < bottom + shift[:, None])  # (n, size)
    img[on_belt] = scene.belt_colour
    middle = np.clip((top + bottom) // 2 + shift, 0, size - 1)
    img[frames, middle] = scene.belt_colour * 2.2
    fraying = 0.7 * wear**1.5  # share of edge pixels frayed, (n,)
    for unclipped in (bottom + shift - 1, bottom + shift):
        edge = np.clip(unclipped, 0, size - 1)
        frayed = scene.fray[edge] < fraying[:, None]  # (n, size)
        img[frames, edge] = np.where(frayed[..., None], _FRAYED, img[frames, edge])


def _draw_person(img: npt.NDArray[np.float32], size: int, rng: np.random.Generator) -> None:
    """A standing figure in a hi-vis vest somewhere inside the safety zone."""
    cx = rng.uniform(ZONE[0] + ZONE_BORDER + 0.06, ZONE[2] - ZONE_BORDER - 0.06)
    img[shape_mask("rect", (cx - 0.035, 0.79, cx + 0.035, 0.92), size)] = (0.12, 0.14, 0.30)
    img[shape_mask("rect", (cx - 0.045, 0.63, cx + 0.045, 0.80), size)] = (1.0, 0.45, 0.05)
    img[shape_mask("rect", (cx - 0.045, 0.70, cx + 0.045, 0.72), size)] = (0.95, 0.95, 0.90)
    img[shape_mask("ellipse", (cx - 0.035, 0.55, cx + 0.035, 0.63), size)] = (0.85, 0.66, 0.52)


def _box_blur(img: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    padded = np.pad(img, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = img.shape[1:3]
    total = sum(padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    return np.asarray(total / 9.0, dtype=np.float32)


def render_frames(scene: Scene, cond: FrameConditions, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Render a chunk of frames of one camera.

    Args:
        scene: The camera's static scene.
        cond: Per-frame conditions.
        rng: The asset's frame stream.

    Returns:
        ``(n, size, size, 3)`` uint8 RGB frames.
    """
    n, size = len(cond), scene.size
    img = np.broadcast_to(scene.base, (n, size, size, 3)).copy()  # (n, H, W, 3)
    if scene.asset_type == "conveyor_drive":
        _draw_belt(img, scene, cond.belt)
    if scene.asset_type == "centrifugal_pump" and np.any(cond.leak > 0):
        radius = 0.95 * cond.leak**0.6
        wet = (scene.puddle[None] < radius[:, None, None])[..., None].astype(np.float32)  # (n, H, W, 1)
        img *= 1 - 0.85 * wet
        img += wet * (0.85 * _PUDDLE)
    scorch = np.clip((cond.heat - 0.3) / 0.7, 0.0, 1.0)
    if np.any(scorch > 0):
        tint = (0.55 * scorch[:, None, None, None] * scene.housing[None, :, :, None]).astype(np.float32)
        img *= 1 - tint
        img += tint * _SCORCH
        haze = (0.9 * np.clip((cond.heat - 0.75) / 0.25, 0.0, 1.0)).astype(np.float32)
        if np.any(haze > 0):
            alpha = haze[:, None, None, None] * scene.smoke[None, :, :, None]
            img *= 1 - alpha
            img += alpha * _HAZE
    img[:, scene.status_light] = _STATUS_COLOURS[cond.status][:, None, :]
    belt_top = BELT[1]
    for i in np.flatnonzero(cond.foreign_object):
        x0, shift = rng.uniform(0.05, 0.85), cond.belt[i] ** 1.2 * BELT_MAX_SHIFT
        colour = rng.choice(np.array([(0.60, 0.45, 0.25), (0.15, 0.35, 0.80), (0.85, 0.85, 0.80)], dtype=np.float32))
        img[i][shape_mask("rect", (x0, belt_top + shift - 0.05, x0 + 0.09, belt_top + shift + 0.03), size)] = colour
    for i in np.flatnonzero(cond.person):
        _draw_person(img[i], size, rng)
    img *= cond.light.astype(np.float32)[:, None, None, None]
    for i in np.flatnonzero(cond.occlusion):
        x0, y0 = rng.uniform(-0.2, 0.7, size=2)
        img[i][shape_mask("rect", (x0, y0, x0 + rng.uniform(0.3, 0.6), y0 + rng.uniform(0.3, 0.7)), size)] = (
            rng.uniform(0.05, 0.3)
        )
    blurred = np.flatnonzero(cond.blur)
    if blurred.size:
        img[blurred] = _box_blur(img[blurred])
    noise = rng.random(img.shape, dtype=np.float32)
    noise -= 0.5
    noise *= (cond.noise * np.sqrt(12.0)).astype(np.float32)[:, None, None, None]
    img += noise
    img *= 255.0
    img += 0.5
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)


def write_pngs(frames: npt.NDArray[np.uint8], paths: Sequence[Path]) -> None:
    """Write RGB frames as PNG files (deterministic bytes for identical pixels)."""
    for data, path in zip(encode_pngs(frames), paths, strict=True):
        path.write_bytes(data)
