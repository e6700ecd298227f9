"""Split helpers that cannot leak: by group (asset, engine, record), stratified by class, by time.

Every function returns disjoint index sets and is deterministic for a given seed (or, for the hash
split, for a given salt: the same record always lands on the same side, whatever else the data holds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class IndexSplit:
    """Positions of the training and evaluation samples of one split (disjoint, sorted)."""

    train: np.ndarray
    test: np.ndarray


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")


def group_split(groups: Sequence[object] | np.ndarray, held_out: float, seed: int) -> IndexSplit:
    """Hold out a random fraction of the *groups* (assets, engines, files): no group is on both sides.

    Args:
        groups: Group label of each sample.
        held_out: Fraction of distinct groups held out (at least one, and at least one kept).
        seed: Seed of the shuffle.
    """
    _check_fraction(held_out)
    labels = np.asarray(groups)
    unique = np.unique(labels)
    if unique.size < 2:
        raise ValueError(f"a group split needs at least 2 groups, got {unique.size}")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(unique)
    n_out = min(max(1, round(held_out * unique.size)), unique.size - 1)
    out = np.isin(labels, shuffled[:n_out])
    return IndexSplit(train=np.flatnonzero(~out), test=np.flatnonzero(out))


def stratified_split(labels: npt.ArrayLike, held_out: float, seed: int) -> IndexSplit:
    """Hold out the same fraction of every class (each class keeps at least one sample on each side when it can).

    Args:
        labels: Class of each sample.
        held_out: Fraction of each class held out.
        seed: Seed of the per-class shuffle.
    """
    _check_fraction(held_out)
    values = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test: list[np.ndarray] = []
    for label in np.unique(values):
        members = rng.permutation(np.flatnonzero(values == label))
        n_out = round(held_out * members.size)
        if members.size >= 2:
            n_out = min(max(1, n_out), members.size - 1)
        test.append(members[:n_out])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(values.size), test_idx)
    return IndexSplit(train=train_idx, test=test_idx)


def stable_unit_hash(key: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by ``key`` (SHA-256), independent of Python's hash seed and of other records."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(keys: Sequence[str], held_out: float, salt: str = "omnimaint") -> IndexSplit:
    """Split records by a hash of their identifier: a record's side never depends on the rest of the data.

    Duplicated keys always fall on the same side, so no record is in both.

    Args:
        keys: Record identifiers (e.g. work-order ids).
        held_out: Expected fraction held out.
        salt: Changes the assignment (use it like a seed).
    """
    _check_fraction(held_out)
    out = np.fromiter((stable_unit_hash(str(k), salt) < held_out for k in keys), dtype=bool, count=len(keys))
    return IndexSplit(train=np.flatnonzero(~out), test=np.flatnonzero(out))
