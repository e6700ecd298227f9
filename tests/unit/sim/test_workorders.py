"""Work-order text: the true fault in a technician's words, varied styles, typos, two languages."""

from __future__ import annotations

import numpy as np
import pytest

from omnimaint.data import Dataset
from omnimaint.sim import FAULT_TYPES
from omnimaint.sim.history import MaintenanceAction
from omnimaint.sim.technician import Technician, abbreviate_en, add_typos_en, first_clause
from omnimaint.sim.workorders import Readings, write_work_order

CAREFUL = Technician(name="JK", abbreviate=0.0, terse=0.0, upper=False, typo_scale=0.0, detail=0.0)
HURRIED = Technician(name="pete", abbreviate=1.0, terse=0.0, upper=True, typo_scale=1.0, detail=1.0)
READINGS = Readings(vib=7.8, temp=88.0, slip=4.2)
KEYWORDS = {
    "bearing_wear": ("bearing", "race"),
    "seal_leak": ("seal", "leak", "puddle", "drip"),
    "belt_wear": ("belt",),
    "electrical_fault": ("motor", "trip", "insulation", "terminal", "earth", "cable", "winding"),
    "overheating": ("hot", "temp", "fan", "cool", "overheat"),
}


def _failure(fault: str, variant: str | None = None, poor: bool = False) -> MaintenanceAction:
    return MaintenanceAction("corrective", "x", 0.0, 3600.0, fault, variant or fault, 1.0, poor, True, True)


def _write(action: MaintenanceAction, technician: Technician = CAREFUL, lang: str = "en", seed: int = 0) -> str:
    text = write_work_order(
        action, "centrifugal_pump", READINGS, technician, lang=lang, typo_rate=0.03, rng=np.random.default_rng(seed)
    )
    return " | ".join(part for part in (text.problem, text.cause, text.action) if part)


@pytest.mark.parametrize("fault", sorted(KEYWORDS))
def test_corrective_text_describes_the_true_fault_in_words(fault: str) -> None:
    texts = {_write(_failure(fault), seed=seed).lower() for seed in range(12)}
    assert len(texts) >= 4  # varied phrasings
    for text in texts:
        assert any(word in text for word in KEYWORDS[fault]), text
        assert not any(identifier in text for identifier in FAULT_TYPES)


def test_imbalance_and_misalignment_read_differently() -> None:
    imbalance = " ".join(_write(_failure("imbalance_misalignment", "imbalance"), seed=s) for s in range(8)).lower()
    misalignment = " ".join(
        _write(_failure("imbalance_misalignment", "misalignment"), seed=s) for s in range(8)
    ).lower()
    assert "balanc" in imbalance and "align" in misalignment


def test_hurried_technicians_abbreviate_shout_and_sign() -> None:
    text = _write(_failure("bearing_wear"), technician=HURRIED)
    assert text == text.upper()
    assert "BRG" in text or "DE " in text or "VIB" in text
    assert "PETE" in text or text.count("|") == 2


def test_sloppy_repairs_are_usually_admitted() -> None:
    admitted = sum(
        any(
            word in _write(_failure("seal_leak", poor=True), seed=s).lower()
            for word in ("temporary", "reused", "quick", "by eye")
        )
        for s in range(40)
    )
    assert 15 < admitted < 40


def test_chinese_work_orders_use_chinese_maintenance_phrasing() -> None:
    texts = [_write(_failure("bearing_wear"), lang="zh", seed=s) for s in range(10)]
    assert any("轴承" in t for t in texts)
    assert any("润滑" in t or "更换" in t for t in texts)


def test_style_helpers() -> None:
    rng = np.random.default_rng(0)
    assert abbreviate_en("Replaced bearing at drive end, checked vibration", 1.0, rng) == "repl brg at DE, chkd vib"
    assert abbreviate_en("Replaced bearing", 0.0, rng) == "Replaced bearing"
    typo = add_typos_en("replaced the bearing housing", 1.0, rng)
    assert typo != "replaced the bearing housing" and len(typo) >= len("replaced the bearing housing") - 3
    assert first_clause("Noisy bearing, high vibration") == "Noisy bearing"
    assert first_clause("轴承异响，振动偏大") == "轴承异响"


def test_plant_work_orders_have_varied_text_and_some_typos(plant: Dataset) -> None:
    maintenance = plant.table("maintenance")
    assert maintenance["problem"].nunique() > len(maintenance) / 4
    corrective = maintenance[maintenance["kind"] == "corrective"]
    assert corrective["cause"].notna().all()
    routine = maintenance[(maintenance["kind"] == "inspection") & maintenance["component"].isna()]
    assert routine["cause"].isna().all()
