"""Screenshots that the browser tests save for the docs, when ``$OMNIMAINT_SCREENSHOTS`` names a folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SCREENSHOTS = os.environ.get("OMNIMAINT_SCREENSHOTS")


def save_screenshot(page: Any, name: str, *, full_page: bool = False, median_cut: bool = False) -> None:
    """``page`` as a 256-colour PNG named ``name`` in ``$OMNIMAINT_SCREENSHOTS`` (a tenth of the size, the same
    look; nothing when the variable is unset): the viewport, or the whole page; colours by fast octree, or by
    median cut (smoother on large flat areas)."""
    if not SCREENSHOTS:
        return
    from PIL import Image

    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f".{name}.raw.png"
    page.screenshot(path=str(raw), full_page=full_page)
    method = Image.Quantize.MEDIANCUT if median_cut else Image.Quantize.FASTOCTREE
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=256, method=method).save(folder / name, optimize=True)
    raw.unlink()
    assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
