"""Mutated datasets: validation and reading never crash, and never read a file outside the dataset folder.

A tiny valid dataset is written once; each example copies it, applies one to three mutations a user's
tools, disks or an attacker could make (truncated or flipped bytes, changed JSON value types, columns of
the wrong type or an implausible time, frame paths with ``..``, absolute paths and symbolic links that
lead out, swapped and deleted files), optionally re-seals the manifest's row counts and checksums so that
the content checks are reached, and then runs ``validate_dataset`` and reads every table and frame.

The properties: every failure is an :class:`OmnimaintError` (the CLI prints it as one line, no
traceback); no file outside the folder is ever opened (Python-level opens are seen through an audit hook,
Parquet reads through the ``pyarrow.parquet`` entry points); and a dataset that validates is readable.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimaint.data import Dataset, validate_dataset, write_dataset
from omnimaint.data.dataset import file_sha256
from omnimaint.data.frame_store import FrameStore
from omnimaint.data.inspection import summarize
from omnimaint.data.schema import TABLES
from omnimaint.errors import OmnimaintError
from tests.unit.data.tiny import tiny_manifest, tiny_tables
from tests.unit.opens import recording_opens

FRAMES = ("frames/A/000.png", "frames/A/001.png", "frames/A/002.png")
TABLE_FILES = tuple(spec.file_name for spec in TABLES.values())
FILES = ("dataset.json", *TABLE_FILES, *FRAMES)
SECRETS = ("secret.png", "secret.parquet", "secret.json", "secret_dir", "secret_dir/000.png")
"""Files outside the dataset (valid image, table, manifest, frame folder): reading one is a failure."""


def _micro_tables() -> tuple[dict[str, pd.DataFrame], dict[str, bytes]]:
    """The tiny dataset cut down to a few rows per table, so that an example costs milliseconds."""
    tables, blobs = tiny_tables()
    tables["telemetry"] = tables["telemetry"].iloc[::40].reset_index(drop=True)
    tables["waveforms"] = tables["waveforms"].iloc[:4].assign(samples=lambda t: [s[:16] for s in t["samples"]])
    tables["frames"] = tables["frames"].iloc[: len(FRAMES)]
    return tables, {path: blobs[path] for path in FRAMES}


class Sandbox:
    """A pristine dataset, the outside secrets, and a scratch folder each example's dataset is copied to."""

    def __init__(self, root: Path) -> None:
        self.pristine = root / "pristine"
        tables, blobs = _micro_tables()
        write_dataset(self.pristine, tiny_manifest(), tables, blobs=blobs)
        self.outside = root / "outside"
        (self.outside / "secret_dir").mkdir(parents=True)
        shutil.copy(self.pristine / FRAMES[0], self.outside / "secret.png")
        shutil.copy(self.pristine / FRAMES[0], self.outside / "secret_dir" / "000.png")
        shutil.copy(self.pristine / "telemetry.parquet", self.outside / "secret.parquet")
        shutil.copy(self.pristine / "dataset.json", self.outside / "secret.json")
        self.dataset = root / "work" / "dataset"
        # Written from memory for each example: faster than copying the tree, and never linked to it.
        self._files = {
            path.relative_to(self.pristine): path.read_bytes()
            for path in sorted(self.pristine.rglob("*"))
            if path.is_file()
        }
        self.forbidden = {os.path.realpath(self.outside / name) for name in SECRETS} | {os.path.realpath("/etc/passwd")}

    def fresh_copy(self) -> Path:
        shutil.rmtree(self.dataset, ignore_errors=True)
        for relative, content in self._files.items():
            (self.dataset / relative).parent.mkdir(parents=True, exist_ok=True)
            (self.dataset / relative).write_bytes(content)
        return self.dataset


# --- mutations -------------------------------------------------------------------------------------------

PATH_TRICKS = (
    "../outside/secret.png",
    "../../outside/secret.png",
    "frames/../../outside/secret.png",
    "frames/A/../../../outside/secret.png",
    "/etc/passwd",
    "ABSOLUTE_SECRET",
    "frames/link/secret.png",
    "frames/link/000.png",
    "",
    ".",
    "frames",
    "frames/A/",
    "frames/A/000.png/",
    "dataset.json",
    "telemetry.parquet",
    "frames/A/000.png\x00.txt",
    "x" * 5000,
    "..\\outside\\secret.png",
    "~/secret.png",
    "frames/A/001.png",
)

JSON_FIELDS: tuple[tuple[str | int, ...], ...] = (
    ("schema_version",),
    ("name",),
    ("timezone",),
    ("channels",),
    ("channels", 0),
    ("channels", 0, "name"),
    ("channels", 0, "kind"),
    ("channels", 0, "sampling_rate_hz"),
    ("channels", 2, "kind"),
    ("cameras",),
    ("cameras", 0, "width"),
    ("components",),
    ("components", "pump"),
    ("fault_types",),
    ("provenance",),
    ("tables",),
    ("tables", "telemetry"),
    ("tables", "telemetry", "rows"),
    ("tables", "frames", "sha256"),
    ("tables", "telemtry"),
    ("unexpected",),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)

COLUMN_VALUES = (
    "strings",
    "ints",
    "big_ints",
    "floats",
    "nan",
    "nulls",
    "bools",
    "naive_ts",
    "berlin_ts",
    "ns_ts",
    "old_ts",
    "future_ts",
    "iso_text",
    "undeclared",
    "binary",
)


def _column(kind: str, n: int) -> pa.Array:
    base = pd.Timestamp("2024-01-01T00:00Z")
    stamps = [base + pd.Timedelta(hours=h) for h in range(n)]
    return {
        "strings": lambda: pa.array([f"s{i}" for i in range(n)]),
        "ints": lambda: pa.array(range(n), pa.int64()),
        "big_ints": lambda: pa.array([2**62 + i for i in range(n)], pa.int64()),
        "floats": lambda: pa.array(np.linspace(0, 1, n)),
        "nan": lambda: pa.array([np.nan] * n),
        "nulls": lambda: pa.nulls(n),
        "bools": lambda: pa.array([i % 2 == 0 for i in range(n)]),
        "naive_ts": lambda: pa.array([s.tz_localize(None) for s in stamps], pa.timestamp("us")),
        "berlin_ts": lambda: pa.array(stamps, pa.timestamp("us", tz="Europe/Berlin")),
        "ns_ts": lambda: pa.array([s.value + 1 for s in stamps], pa.timestamp("ns", tz="UTC")),
        "old_ts": lambda: pa.array([-2_082_844_800_000_000] * n, pa.timestamp("us", tz="UTC")),  # 1904-01-01
        "future_ts": lambda: pa.array([1_700_000_000_000_000_000] * n, pa.timestamp("us", tz="UTC")),
        "iso_text": lambda: pa.array([s.strftime("%Y-%m-%dT%H:%M:%S") for s in stamps]),
        "undeclared": lambda: pa.array(["vibration_x"] * n),
        "binary": lambda: pa.array([b"\xff\x00"] * n, pa.binary()),
    }[kind]()


def _table_columns() -> list[tuple[str, str]]:
    return [(spec.name, column.name) for spec in TABLES.values() for column in spec.columns]


mutations = st.one_of(
    st.tuples(st.just("truncate"), st.sampled_from(FILES), st.floats(0, 1)),
    st.tuples(
        st.just("flip"),
        st.sampled_from(FILES),
        st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4),
    ),
    st.tuples(st.just("json"), st.sampled_from(JSON_FIELDS), json_values),
    st.tuples(st.just("frame_path"), st.integers(0, len(FRAMES) - 1), st.sampled_from(PATH_TRICKS) | st.text()),
    st.tuples(
        st.just("link_out"),
        st.sampled_from(("dataset.json", "telemetry.parquet", "frames.parquet", *FRAMES, "frames/A", "frames/link")),
        st.sampled_from((*SECRETS, ".", "/etc/passwd", "missing")),
    ),
    st.tuples(st.just("link_in"), st.sampled_from(FRAMES), st.sampled_from(FRAMES)),
    st.tuples(st.just("swap"), st.sampled_from(FILES), st.sampled_from(FILES)),
    st.tuples(st.just("delete"), st.sampled_from(FILES)),
    st.tuples(st.just("column"), st.sampled_from(_table_columns()), st.sampled_from(COLUMN_VALUES)),
    st.tuples(st.just("stray"), st.sampled_from(TABLE_FILES), st.sampled_from(("old.parquet", "Telemetry.parquet"))),
)


def _set_json(document: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Set the value at ``path``, when the document (perhaps mutated before) still has its parents."""
    node = document
    for key in path:
        fits = (isinstance(node, dict) and isinstance(key, str)) or (
            isinstance(node, list) and isinstance(key, int) and key < len(node)
        )
        if not fits:
            return
        if key == path[-1]:
            node[key] = value
            return
        if isinstance(node, dict) and key not in node:
            return
        node = node[key]


def _rewrite_table(root: Path, file: str, change: Any) -> None:
    """Apply ``change`` to a readable table file (left alone when an earlier mutation broke it)."""
    try:
        table = pq.read_table(root / file)
    except (pa.ArrowException, OSError):
        return
    if table.num_rows:
        pq.write_table(change(table), root / file)


def _replace_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def _link(source: Path, target: Path | str) -> None:
    if source.is_symlink() or source.is_file():
        source.unlink()
    elif source.is_dir():
        shutil.rmtree(source)
    source.parent.mkdir(parents=True, exist_ok=True)
    source.symlink_to(target)


def _own(root: Path, relative: str) -> bool:
    """Whether no link lies on the way to ``root/relative``: a mutation writes only there, never through a
    link into the files outside (they must stay what the oracle expects)."""
    real = os.path.normpath(os.path.join(os.path.realpath(root), relative))  # noqa: PTH118
    return os.path.realpath(root / relative) == real


_WRITES_FIRST = frozenset({"truncate", "flip", "delete"})
"""Mutations that write the file named by their first argument."""


def apply(mutation: tuple[Any, ...], root: Path, sandbox: Sandbox) -> None:
    kind, *args = mutation
    written: list[str] = list(args[:2]) if kind == "swap" else [args[0]] if kind in _WRITES_FIRST else []
    if kind == "json":
        written = ["dataset.json"]
    elif kind == "frame_path":
        written = ["frames.parquet"]
    elif kind == "column":
        written = [f"{args[0][0]}.parquet"]
    elif kind in {"link_out", "link_in"}:
        written = [str(Path(args[0]).parent)]
    if not all(_own(root, relative) for relative in written):
        return
    if kind in {"truncate", "flip", "delete"} and not (root / args[0]).is_file():
        return
    if kind == "truncate":
        data = (root / args[0]).read_bytes()
        (root / args[0]).write_bytes(data[: int(len(data) * args[1])])
    elif kind == "flip":
        data = bytearray((root / args[0]).read_bytes())
        for where, mask in args[1]:
            if data:
                data[int(where * len(data))] ^= mask
        (root / args[0]).write_bytes(bytes(data))
    elif kind == "delete":
        (root / args[0]).unlink()
    elif kind == "json":
        try:
            document = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        _set_json(document, args[0], args[1])
        (root / "dataset.json").write_text(json.dumps(document), encoding="utf-8")
    elif kind == "frame_path":
        row, trick = args
        trick = str(sandbox.outside / "secret.png") if trick == "ABSOLUTE_SECRET" else trick

        def set_path(table: pa.Table) -> pa.Table:
            kept = "path" in table.column_names and pa.types.is_string(table.column("path").type)
            paths = table.column("path").to_pylist() if kept else list(FRAMES * table.num_rows)[: table.num_rows]
            paths[row % len(paths)] = trick
            return _replace_column(table, "path", pa.array(paths, pa.string()))

        _rewrite_table(root, "frames.parquet", set_path)
    elif kind == "link_out":
        name, secret = args
        target = "/etc/passwd" if secret == "/etc/passwd" else sandbox.outside / secret
        _link(root / name, target)
    elif kind == "link_in":
        if args[0] != args[1]:
            _link(root / args[0], Path(args[1]).name)
    elif kind == "swap":
        first, second = root / args[0], root / args[1]
        if first != second and first.is_file() and second.is_file():
            parked = root / ".swap"
            first.rename(parked)
            second.rename(first)
            parked.rename(second)
    elif kind == "column":
        (table_name, column), values = args
        _rewrite_table(root, f"{table_name}.parquet", lambda t: _replace_column(t, column, _column(values, t.num_rows)))
    elif kind == "stray" and (root / args[0]).is_file():
        shutil.copy(root / args[0], root / args[1])


def reseal(root: Path) -> None:
    """Record the present files' row counts and checksums, so that validation reaches their content."""
    try:
        document = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
        tables = document["tables"] if isinstance(document, dict) else None
        if not isinstance(tables, dict):
            return
        for name in list(tables):
            file = root / f"{name}.parquet"
            if isinstance(tables[name], dict) and file.is_file() and not file.is_symlink():
                tables[name]["rows"] = pq.ParquetFile(file).metadata.num_rows
                tables[name]["sha256"] = file_sha256(file)
    except (OSError, ValueError, TypeError, KeyError, pa.ArrowException):
        return
    if _own(root, "dataset.json"):
        (root / "dataset.json").write_text(json.dumps(document), encoding="utf-8")


def read_tables(root: Path) -> Dataset:
    """What every command does with a dataset: open it, count rows of some columns, read every table."""
    dataset = Dataset(root)
    for name, spec in TABLES.items():
        dataset.arrow(name, columns=["asset_id", *([spec.time_column] if spec.time_column else [])])
        dataset.arrow(name)
    return dataset


def load_frames(dataset: Dataset) -> None:
    """What window building does with frames: locate and decode each one."""
    store = FrameStore(dataset.path, size=8, cache_bytes=0)
    for path in dataset.arrow("frames").column("path").to_pylist():
        dataset.frame_file(path)
        store.load(path)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(tmp_path_factory.mktemp("properties"))


def test_pristine_dataset_is_valid_and_readable(sandbox: Sandbox) -> None:
    root = sandbox.fresh_copy()
    with recording_opens() as opened:
        validate_dataset(root)
        summarize(read_tables(root))
        load_frames(read_tables(root))
    assert any(path.endswith("dataset.json") for path in opened), "the audit hook sees Python-level opens"
    assert any(path.endswith("telemetry.parquet") for path in opened), "the patch sees Parquet reads"
    assert any(path.endswith("000.png") for path in opened), "the audit hook sees frame reads"


@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(mutations, min_size=1, max_size=3), sealed=st.booleans(), checksums=st.booleans())
def test_mutated_datasets_fail_cleanly_and_never_read_outside(
    sandbox: Sandbox, changes: list[tuple[Any, ...]], sealed: bool, checksums: bool
) -> None:
    root = sandbox.fresh_copy()
    for change in changes:
        apply(change, root, sandbox)
    if sealed:
        reseal(root)
    accepted = readable = False
    messages: list[str] = []
    with recording_opens() as opened:
        try:
            validate_dataset(root, checksums=checksums)
            accepted = True
        except OmnimaintError as exc:
            messages.append(str(exc))
        try:
            dataset = read_tables(root)
            readable = True
            load_frames(dataset)
        except OmnimaintError as exc:
            messages.append(str(exc))
    assert all(message and "\n" not in message for message in messages), messages
    read_outside = sorted({path for path in opened if os.path.realpath(path) in sandbox.forbidden})
    assert not read_outside, f"read {read_outside} (accepted by validate: {accepted})"
    assert readable or not accepted, "validate accepted a dataset that cannot be read"
