"""The generic split helpers never put a group, class member or record on both sides."""

from __future__ import annotations

import numpy as np
import pytest

from omnimaint.evaluation.splits import group_split, hash_split, stable_unit_hash, stratified_split


def test_group_split_keeps_every_group_on_one_side() -> None:
    groups = np.repeat([f"engine-{i}" for i in range(10)], 7)
    split = group_split(groups, 0.3, seed=1)
    assert set(groups[split.train]).isdisjoint(groups[split.test])
    assert len(set(groups[split.test])) == 3
    assert sorted(np.r_[split.train, split.test].tolist()) == list(range(len(groups)))
    assert np.array_equal(group_split(groups, 0.3, seed=1).test, split.test)
    with pytest.raises(ValueError, match="2 groups"):
        group_split(["only"] * 4, 0.5, seed=0)


def test_stratified_split_holds_out_each_class_in_proportion() -> None:
    labels = np.array(["a"] * 20 + ["b"] * 10 + ["c"] * 2)
    split = stratified_split(labels, 0.3, seed=0)
    assert set(split.train).isdisjoint(split.test)
    held = {c: int(np.sum(labels[split.test] == c)) for c in "abc"}
    assert held == {"a": 6, "b": 3, "c": 1}
    assert np.array_equal(stratified_split(labels, 0.3, seed=0).test, split.test)
    assert not np.array_equal(stratified_split(labels, 0.3, seed=1).test, split.test)


def test_hash_split_is_per_record_and_disjoint() -> None:
    keys = [str(100000 + i) for i in range(2000)]
    split = hash_split(keys, 0.2)
    assert set(split.train).isdisjoint(split.test)
    assert 0.15 < len(split.test) / len(keys) < 0.25
    # A record's side does not depend on the other records.
    test_keys = {keys[i] for i in split.test}
    subset = keys[::7]
    sub_split = hash_split(subset, 0.2)
    assert {subset[i] for i in sub_split.test} == {k for k in subset if k in test_keys}
    # Duplicated ids land on the same side.
    duplicated = hash_split(["x", "y", "x"], 0.5)
    assert (0 in duplicated.test) == (2 in duplicated.test)
    assert 0.0 <= stable_unit_hash("abc") < 1.0
    assert stable_unit_hash("abc", "s1") != stable_unit_hash("abc", "s2")
