"""The static picture each camera sees, and where the visual fault cues appear in it.

The layout of a machine type is fixed in normalised image coordinates (x to the right, y down, both
in [0, 1]) and scaled to the frame size, so that :func:`cue_region` can say, from the asset type
and the frame size alone, which pixels a cue may cover: tests and the evidence code check cues
there. Colours and floor texture vary per asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from omnimaint.errors import ConfigError

Cue = Literal["puddle", "housing", "smoke", "belt", "safety_zone", "status_light"]
CUES: Final = ("puddle", "housing", "smoke", "belt", "safety_zone", "status_light")
BoolImage = npt.NDArray[np.bool_]
FloatImage = npt.NDArray[np.float32]

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 (normalised)

WALL_BOTTOM = 0.28
ZONE: Final[Box] = (0.06, 0.40, 0.94, 0.97)
ZONE_BORDER = 0.045
BELT: Final[Box] = (0.0, 0.47, 1.0, 0.59)
BELT_MAX_SHIFT = 0.07
"""Largest downward shift of a badly tracking belt, as a fraction of the frame height."""

# Per type: named parts as (shape, box, colour); shapes are "rect" or "ellipse" (box = bounding box).
_PARTS: Final[dict[str, tuple[tuple[str, str, Box, tuple[float, float, float]], ...]]] = {
    "centrifugal_pump": (
        ("pipe", "rect", (0.25, 0.04, 0.33, 0.45), (0.55, 0.56, 0.58)),
        ("base", "rect", (0.14, 0.64, 0.86, 0.71), (0.22, 0.22, 0.24)),
        ("volute", "ellipse", (0.16, 0.40, 0.42, 0.66), (0.22, 0.45, 0.32)),
        ("coupling", "rect", (0.41, 0.50, 0.49, 0.60), (0.90, 0.60, 0.10)),
        ("housing", "rect", (0.49, 0.44, 0.80, 0.64), (0.16, 0.30, 0.62)),
        ("fan_cover", "rect", (0.80, 0.46, 0.87, 0.62), (0.12, 0.22, 0.46)),
        ("status_light", "rect", (0.62, 0.38, 0.67, 0.43), (0.3, 0.3, 0.3)),
    ),
    "cnc_spindle": (
        ("enclosure", "rect", (0.16, 0.10, 0.84, 0.86), (0.76, 0.77, 0.74)),
        ("window", "rect", (0.26, 0.20, 0.72, 0.58), (0.20, 0.25, 0.28)),
        ("table", "rect", (0.32, 0.50, 0.66, 0.56), (0.45, 0.45, 0.47)),
        ("housing", "rect", (0.42, 0.20, 0.56, 0.42), (0.62, 0.62, 0.65)),
        ("tool", "rect", (0.47, 0.42, 0.51, 0.50), (0.80, 0.80, 0.82)),
        ("panel", "rect", (0.75, 0.28, 0.82, 0.52), (0.15, 0.16, 0.18)),
        ("status_light", "rect", (0.76, 0.20, 0.81, 0.25), (0.3, 0.3, 0.3)),
    ),
    "conveyor_drive": (
        ("rail", "rect", (0.0, 0.66, 1.0, 0.70), (0.30, 0.31, 0.33)),
        ("leg_left", "rect", (0.10, 0.70, 0.14, 0.92), (0.30, 0.31, 0.33)),
        ("gearbox", "rect", (0.50, 0.70, 0.62, 0.86), (0.45, 0.46, 0.48)),
        ("housing", "rect", (0.62, 0.71, 0.88, 0.86), (0.16, 0.30, 0.62)),
        ("status_light", "rect", (0.86, 0.40, 0.91, 0.45), (0.3, 0.3, 0.3)),
    ),
}
_PUDDLE: Final[Box] = (0.12, 0.73, 0.50, 0.90)
_SMOKE: Final[dict[str, Box]] = {
    "centrifugal_pump": (0.44, 0.16, 0.90, 0.48),
    "cnc_spindle": (0.26, 0.20, 0.72, 0.58),
    "conveyor_drive": (0.56, 0.56, 0.96, 0.80),
}


def _grid(size: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size
    return centres[:, None], centres[None, :]  # y (size, 1), x (1, size)


def shape_mask(shape: str, box: Box, size: int) -> BoolImage:
    """Pixels of a rectangle or of the ellipse inscribed in ``box``."""
    y, x = _grid(size)
    x0, y0, x1, y1 = box
    if shape == "rect":
        return np.asarray((x >= x0) & (x < x1) & (y >= y0) & (y < y1), dtype=bool)
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    return np.asarray(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0, dtype=bool)


def _part_box(asset_type: str, name: str) -> Box:
    return next(box for part, _, box, _ in _PARTS[asset_type] if part == name)


def puddle_field(size: int) -> npt.NDArray[np.float64]:
    """Normalised elliptical distance from the puddle centre (1 at the edge of the cue region)."""
    y, x = _grid(size)
    x0, y0, x1, y1 = _PUDDLE
    return np.asarray(
        np.sqrt(((x - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2 + ((y - (y0 + y1) / 2) / ((y1 - y0) / 2)) ** 2)
    )


def cue_region(asset_type: str, cue: Cue, frame_size: int) -> BoolImage:
    """Pixels where a visual cue can appear, for an asset type and frame size.

    Args:
        asset_type: Machine type.
        cue: ``puddle`` (seal leak; pumps only), ``housing`` (heat discolouration), ``smoke`` (haze of
            a late overheating), ``belt`` (where a worn belt can run and fray; conveyors only),
            ``safety_zone`` (inside the striped border), ``status_light``.
        frame_size: Frame width and height.

    Returns:
        A ``(frame_size, frame_size)`` boolean mask.

    Raises:
        ConfigError: for a cue that the asset type does not have.
    """
    if asset_type not in _PARTS or cue not in CUES:
        raise ConfigError(f"no cue {cue!r} for asset type {asset_type!r}; cues are {list(CUES)}")
    if cue == "puddle":
        if asset_type != "centrifugal_pump":
            raise ConfigError(f"asset type {asset_type!r} has no puddle cue (only centrifugal_pump leaks)")
        return np.asarray(puddle_field(frame_size) <= 1.0, dtype=bool)
    if cue == "belt":
        if asset_type != "conveyor_drive":
            raise ConfigError(f"asset type {asset_type!r} has no belt cue (only conveyor_drive)")
        x0, y0, x1, y1 = BELT
        return shape_mask("rect", (x0, y0, x1, y1 + BELT_MAX_SHIFT), frame_size)
    if cue == "smoke":
        return shape_mask("ellipse", _SMOKE[asset_type], frame_size)
    if cue == "safety_zone":
        x0, y0, x1, y1 = ZONE
        b = ZONE_BORDER
        return shape_mask("rect", (x0 + b, y0 + b, x1 - b, y1 - b), frame_size)
    return shape_mask("rect", _part_box(asset_type, cue), frame_size)


@dataclass(frozen=True)
class Scene:
    """One camera's static picture and the masks the renderer needs.

    Attributes:
        asset_type: Machine type.
        size: Frame width and height.
        base: Background with the machine, ``(size, size, 3)`` float32 in [0, 1] (no belt, no cues).
        housing: Heat-discolouration pixels.
        smoke: Haze weights in [0, 1].
        status_light: Status-light pixels.
        puddle: Irregular distance field of the puddle (``inf`` outside the cue region); a puddle of
            radius r covers ``puddle < r``.
        fray: Random field in [0, 1] deciding which belt-edge pixels fray first (conveyors).
        belt_colour: RGB of the belt.
    """

    asset_type: str
    size: int
    base: FloatImage
    housing: BoolImage
    smoke: FloatImage
    status_light: BoolImage
    puddle: npt.NDArray[np.float64]
    fray: FloatImage
    belt_colour: npt.NDArray[np.float32]


def _texture(size: int, coarse: int, rng: np.random.Generator) -> FloatImage:
    """Smooth random texture: coarse noise upsampled by nearest neighbour then box-smoothed."""
    cells = rng.standard_normal((coarse, coarse))
    index = (np.arange(size) * coarse) // size
    up = cells[index][:, index]
    smooth = (up + np.roll(up, 1, 0) + np.roll(up, 1, 1) + np.roll(up, -1, 0) + np.roll(up, -1, 1)) / 5
    return smooth.astype(np.float32)


def build_scene(asset_type: str, size: int, rng: np.random.Generator) -> Scene:
    """Draw one asset's static picture (colours and textures from the asset's frame stream)."""
    y, x = _grid(size)
    img = np.empty((size, size, 3), dtype=np.float32)
    wall = y < WALL_BOTTOM
    floor_tone = 0.52 + 0.04 * _texture(size, max(size // 8, 2), rng) + 0.02 * rng.standard_normal((size, size))
    img[...] = (floor_tone[..., None] * np.array([1.0, 0.98, 0.94], dtype=np.float32)).astype(np.float32)
    img[np.broadcast_to(wall, (size, size))] = np.array([0.70, 0.68, 0.62], dtype=np.float32) * rng.uniform(0.9, 1.05)
    x0, y0, x1, y1 = ZONE
    outer = shape_mask("rect", ZONE, size)
    inner = shape_mask("rect", (x0 + ZONE_BORDER, y0 + ZONE_BORDER, x1 - ZONE_BORDER, y1 - ZONE_BORDER), size)
    stripe = ((np.arange(size)[:, None] + np.arange(size)[None, :]) // max(size // 16, 2)) % 2 == 0
    img[outer & ~inner & stripe] = (0.95, 0.80, 0.05)
    img[outer & ~inner & ~stripe] = (0.08, 0.08, 0.08)
    for name, shape, box, colour in _PARTS[asset_type]:
        # Paint varies in brightness more than in hue (a random hue shift could pass for heat tint).
        jitter = rng.uniform(0.88, 1.12) * rng.uniform(0.97, 1.03, size=3)
        tint = colour if name == "status_light" else np.clip(np.array(colour) * jitter, 0, 1)
        img[shape_mask(shape, box, size)] = tint
    housing = cue_region(asset_type, "housing", size)
    if asset_type != "cnc_spindle":  # cooling fins: darker lines across the motor
        fins = housing & ((np.arange(size)[:, None] % 3) == 0)
        img[fins] *= 0.75
    smoke_box = _SMOKE[asset_type]
    cx, cy = (smoke_box[0] + smoke_box[2]) / 2, (smoke_box[1] + smoke_box[3]) / 2
    rx, ry = (smoke_box[2] - smoke_box[0]) / 2, (smoke_box[3] - smoke_box[1]) / 2
    falloff = np.clip(1 - ((x - cx) / rx) ** 2 - ((y - cy) / ry) ** 2, 0, 1)
    field = puddle_field(size)
    smoke = np.clip(falloff * (0.8 + 0.4 * _texture(size, max(size // 6, 2), rng)), 0, 1).astype(np.float32)
    return Scene(
        asset_type=asset_type,
        size=size,
        base=np.clip(img, 0, 1),
        housing=housing,
        smoke=smoke,
        status_light=cue_region(asset_type, "status_light", size),
        puddle=np.where(field <= 1.0, field * (1 + 0.15 * _texture(size, max(size // 10, 2), rng)), np.inf),
        fray=rng.random((size, size)).astype(np.float32),
        belt_colour=(np.array([0.13, 0.13, 0.14]) * rng.uniform(0.85, 1.15)).astype(np.float32),
    )
