"""Fixtures of the bad-input tests: a small valid dataset to break, owned by each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimaint.data import Dataset
from tests.unit.data.tiny import write_tiny


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Dataset:
    return write_tiny(tmp_path / "tiny")
