"""The simulator's fault signatures (the diagnosis benchmark's truth) say what docs/simulator.md's table says."""

from __future__ import annotations

from pathlib import Path

from omnimaint.sim.catalog import FAULT_MODES, FAULT_SIGNATURES

TABLE = "## Fault modes and where they show"
COLUMNS = ("waveforms", "telemetry", "frames", "events")
"""The table's modality columns (waveform, telemetry, image, events), after the fault mode."""


def _table() -> dict[str, list[str]]:
    text = (Path(__file__).resolve().parents[3] / "docs" / "simulator.md").read_text(encoding="utf-8")
    start = text.index(TABLE)
    section = text[start : text.index("\n## ", start + len(TABLE))]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return {row[0].strip("`"): row[1 : 1 + len(COLUMNS)] for row in cells}


def test_every_fault_mode_has_a_signature_that_the_docs_table_states() -> None:
    table = _table()
    assert set(FAULT_SIGNATURES) == set(FAULT_MODES) == set(table)
    for fault, cells in table.items():
        signature = FAULT_SIGNATURES[fault]
        shows = {modality for modality, cell in zip(COLUMNS, cells, strict=True) if cell != "—"}
        first = [m for m, cell in zip(COLUMNS, cells, strict=True) if cell.startswith(("**first**", "**only early"))]
        assert signature.shows_in == shows, fault
        assert [signature.first] == first, fault
