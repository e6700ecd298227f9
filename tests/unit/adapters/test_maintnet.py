"""MaintNet: the logbook CSV (UTF-8 with BOM, quoted commas) and the latin-1 annotations → work orders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from omnimaint.adapters import SYNTHETIC_EPOCH, import_maintnet
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError

LOGBOOK = (
    "\ufeffIDENT,PROBLEM,ACTION\n"
    '100001,ENGINE IDLE OVERRIDE KILLED ENGINE.,"TRIED TO ADJUST IDLE SEVERAL TIMES, WOULDN\'T ADJUST."\n'
    "100002,#2 & 4 CYL ROCKER COVER GASKETS ARE LEAKING.,REMOVED & REPLACED GASKETS.\n"
    "100002,R/H BAFFLE CRACKED.,REPLACED BAFFLE.\n"
    "100004,CHECK °F GAUGE,\n"
)
ANNOTATED = (
    "IDENT,PROBLEM,LOCATION,PART,TGGEDPROBLEM,ACTION\n"
    "100001,ENGINE IDLE OVERRIDE KILLED ENGINE.,ENGINE,None,KILLED,x\n"
    "100002,#2 & 4 CYL ROCKER COVER GASKETS ARE LEAKING.,#2 & 4 CYL,ROCKER COVER GASKETS,LEAKING,y\n"
    "100004,CHECK GAUGE,,,,z\n"
)


@pytest.fixture
def logbook_dir(tmp_path: Path) -> Path:
    src = tmp_path / "maintnet"
    src.mkdir()
    (src / "problems_actions.csv").write_text(LOGBOOK, encoding="utf-8")
    (src / "annotated_problems.csv").write_bytes(ANNOTATED.encode("latin-1"))
    return src


def test_converts_work_orders(logbook_dir: Path, tmp_path: Path) -> None:
    import_maintnet(logbook_dir, tmp_path / "out")
    dataset = validate_dataset(tmp_path / "out")
    assert dataset.table("assets")[["asset_id", "asset_type"]].to_dict("records") == [
        {"asset_id": "aircraft", "asset_type": "aircraft"}
    ]
    orders = dataset.table("maintenance")
    assert list(orders["work_order_id"]) == ["100001", "100002", "100002-2", "100004"]  # repeated IDENT suffixed
    assert list(orders["ts_open"]) == [SYNTHETIC_EPOCH + pd.Timedelta(minutes=i) for i in range(4)]
    assert set(orders["kind"]) == {"corrective"}
    assert orders["problem"].iloc[0] == "ENGINE IDLE OVERRIDE KILLED ENGINE."
    assert orders["action"].iloc[0] == "TRIED TO ADJUST IDLE SEVERAL TIMES, WOULDN'T ADJUST."  # quoted comma kept
    assert orders["problem"].iloc[3] == "CHECK °F GAUGE"
    assert pd.isna(orders["action"].iloc[3])
    components = orders.set_index("work_order_id")["component"]
    assert components["100002"] == "ROCKER COVER GASKETS"
    assert pd.isna(components["100001"])  # PART 'None' = unannotated
    assert pd.isna(components["100004"])


def test_without_annotations_and_latin1_logbook(tmp_path: Path) -> None:
    src = tmp_path / "m"
    src.mkdir()
    (src / "problems_actions.csv").write_bytes("IDENT,PROBLEM,ACTION\n1,CHECK °F GAUGE,OK\n".encode("latin-1"))
    orders = import_maintnet(src, tmp_path / "out").table("maintenance")
    assert orders["problem"].iloc[0] == "CHECK °F GAUGE"
    assert orders["component"].isna().all()


def test_errors_name_the_file(tmp_path: Path) -> None:
    src = tmp_path / "m"
    src.mkdir()
    with pytest.raises(DatasetError, match=r"problems_actions\.csv: not found"):
        import_maintnet(src, tmp_path / "out")
    (src / "problems_actions.csv").write_text("IDENT,PROBLEM\n1,X\n")
    with pytest.raises(DatasetError, match=r"line 1: missing column\(s\) \['ACTION'\]"):
        import_maintnet(src, tmp_path / "out")
    (src / "problems_actions.csv").write_text("IDENT,PROBLEM,ACTION\n1,X,Y\n,Z,W\n")
    with pytest.raises(DatasetError, match=r"line 3, column 1 \('IDENT'\): missing value"):
        import_maintnet(src, tmp_path / "out")


def test_explicit_encoding_reads_both_files_without_fallback(logbook_dir: Path, tmp_path: Path) -> None:
    (logbook_dir / "problems_actions.csv").write_bytes(LOGBOOK.lstrip("\ufeff").encode("cp1252"))
    orders = import_maintnet(logbook_dir, tmp_path / "out", encoding="cp1252").table("maintenance")
    assert orders["problem"].iloc[3] == "CHECK °F GAUGE"
    assert orders["component"].iloc[1] == "ROCKER COVER GASKETS"
    with pytest.raises(
        DatasetError, match=r"problems_actions\.csv: line 5: byte\(s\) b0 at character 14 are not valid"
    ):
        import_maintnet(logbook_dir, tmp_path / "out2", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown text encoding 'utf-9'"):
        import_maintnet(logbook_dir, tmp_path / "out2", encoding="utf-9")
