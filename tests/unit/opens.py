"""Which files a piece of code opens: through Python (an audit hook) or as Parquet (pyarrow.parquet).

The property tests use it to show that mutated inputs never make omnimaint read outside what it was given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq

_RECORDERS: list[list[str]] = []
"""The lists of :func:`recording_opens` now active (audit hooks cannot be removed, only made idle)."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDERS and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        for opened in _RECORDERS:
            opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@contextmanager
def recording_opens() -> Iterator[list[str]]:
    """Every path opened meanwhile: through Python (audit hook) or as a Parquet file (pyarrow.parquet)."""
    opened: list[str] = []
    parquet_file, read_table = pq.ParquetFile, pq.read_table

    def recorded_parquet_file(source: Any, *args: Any, **kwargs: Any) -> pq.ParquetFile:
        opened.append(os.fspath(source))
        return parquet_file(source, *args, **kwargs)

    def recorded_read_table(source: Any, *args: Any, **kwargs: Any) -> pa.Table:
        opened.append(os.fspath(source))
        return read_table(source, *args, **kwargs)

    _RECORDERS.append(opened)
    try:
        with (
            mock.patch.object(pq, "ParquetFile", recorded_parquet_file),
            mock.patch.object(pq, "read_table", recorded_read_table),
        ):
            yield opened
    finally:
        _RECORDERS.remove(opened)
