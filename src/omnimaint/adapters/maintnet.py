"""MaintNet aviation maintenance logbook (``problems_actions.csv``) → canonical work orders.

``problems_actions.csv`` (IDENT, PROBLEM, ACTION; UTF-8 with a byte-order mark; quoted fields with
commas) holds one work order per record. The optional ``annotated_problems.csv`` (IDENT, PROBLEM,
LOCATION, PART, TGGEDPROBLEM, ACTION; read as latin-1) names the part for some of them; ``PART`` becomes
the work order's component (empty and the literal ``None`` mean unannotated). The logbook has no dates:
record ``i`` (0-based) opens at ``2000-01-01T00:00Z + i minutes``, so the file order is kept. An
explicit ``encoding`` reads both files in it, with no fallback. See ``docs/adapters.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from omnimaint.adapters.clock import synthetic_times
from omnimaint.adapters.csv_text import check_encoding
from omnimaint.adapters.sources import TableChunk, read_whole_table, text_values
from omnimaint.data import Dataset, Manifest, describe_provenance, write_dataset
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)

ASSET_ID: Final = "aircraft"
ASSET_TYPE: Final = "aircraft"
WORK_ORDERS_FILE: Final = "problems_actions.csv"
ANNOTATIONS_FILE: Final = "annotated_problems.csv"
_UNANNOTATED: Final = frozenset({"", "None"})


def unique_work_order_ids(idents: pd.Series) -> pd.Series:
    """IDENTs as work-order ids; a repeated IDENT gets ``-2``, ``-3`` ... on its 2nd, 3rd ... occurrence."""
    occurrence = idents.groupby(idents).cumcount().to_numpy()
    suffix = np.where(occurrence > 0, "-" + (occurrence + 1).astype(str), "")
    ids = idents.astype(str).to_numpy() + suffix
    if (occurrence > 0).any():
        repeated = sorted(set(idents[occurrence > 0]))
        logger.warning("%d repeated IDENTs (%s...) got suffixes -2, -3 ...", int((occurrence > 0).sum()), repeated[:3])
    return pd.Series(ids, index=idents.index, dtype=object)


def _read_work_orders(path: Path, encoding: str | None) -> TableChunk:
    if encoding is not None:
        return read_whole_table(
            path, required=("IDENT", "PROBLEM", "ACTION"), text_columns=("IDENT",), encoding=encoding
        )
    try:
        return read_whole_table(path, required=("IDENT", "PROBLEM", "ACTION"), text_columns=("IDENT",))
    except DatasetError as exc:
        if not isinstance(exc.__cause__, UnicodeDecodeError):
            raise
        logger.warning("%s is not UTF-8; reading it as latin-1", path)
        return read_whole_table(
            path, required=("IDENT", "PROBLEM", "ACTION"), text_columns=("IDENT",), encoding="latin-1"
        )


def _parts(path: Path, encoding: str) -> dict[str, str]:
    """IDENT → annotated PART (only the annotated ones)."""
    chunk = read_whole_table(path, required=("IDENT", "PART"), text_columns=("IDENT", "PART"), encoding=encoding)
    idents = text_values(chunk, "IDENT")
    parts = text_values(chunk, "PART", required=False).fillna("")
    annotated = ~parts.isin(_UNANNOTATED)
    return dict(zip(idents[annotated], parts[annotated], strict=True))


def import_maintnet(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    encoding: str | None = None,
    show_progress: bool = True,
) -> Dataset:
    """Convert the MaintNet logbook in ``src`` into a canonical dataset of work orders at ``out``.

    Args:
        src: Folder holding ``problems_actions.csv`` and optionally ``annotated_problems.csv``
            (or the path of ``problems_actions.csv`` itself).
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        encoding: Text encoding of both files; ``None`` reads the logbook as UTF-8 (latin-1, with a warning, if
            it is not) and the annotations as latin-1.
        show_progress: Unused (the conversion takes well under a second); kept for a uniform adapter signature.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if the file is missing or a record is malformed (naming file, line and column).
        ConfigError: if ``encoding`` is not a known text encoding.
    """
    del show_progress
    if encoding is not None:
        check_encoding(encoding)
    folder = src if src.is_dir() else src.parent
    chunk = _read_work_orders(src / WORK_ORDERS_FILE if src.is_dir() else src, encoding)
    idents = text_values(chunk, "IDENT")
    problems = text_values(chunk, "PROBLEM", required=False)
    actions = text_values(chunk, "ACTION", required=False)
    annotations = folder / ANNOTATIONS_FILE
    parts = _parts(annotations, encoding or "latin-1") if annotations.is_file() else {}
    maintenance = pd.DataFrame(
        {
            "work_order_id": unique_work_order_ids(idents.reset_index(drop=True)),
            "asset_id": ASSET_ID,
            "ts_open": synthetic_times(np.arange(len(idents)), "min"),
            "component": [parts.get(ident) for ident in idents],
            "kind": "corrective",
            "problem": problems.to_numpy(),
            "action": actions.to_numpy(),
        }
    )
    manifest = Manifest(
        schema_version=SCHEMA_VERSION,
        name="maintnet",
        provenance=describe_provenance(
            source="MaintNet aviation maintenance logbook (Akhbardeh, Desell, Zampieri, COLING 2020)",
            adapter="maintnet",
            source_path=str(src),
            annotations=str(annotations) if parts else None,
            time_convention="record i opens at 2000-01-01T00:00Z + i minutes (the logbook has no dates)",
        ),
    )
    assets = pd.DataFrame({"asset_id": [ASSET_ID], "asset_type": [ASSET_TYPE]})
    dataset = write_dataset(out, manifest, {"assets": assets, "maintenance": maintenance}, overwrite=overwrite)
    logger.info("converted %d MaintNet work orders (%d with a part) from %s", len(maintenance), len(parts), src)
    return dataset
