"""``__all__`` of the baselines and evaluation packages names exactly what they export, and estimators
follow the scikit-learn contract (``__init__`` stores arguments; clone works)."""

from __future__ import annotations

import inspect

import pytest
from sklearn.base import BaseEstimator, clone

from omnimaint import baselines, evaluation
from omnimaint.evaluation import protocols


@pytest.mark.parametrize("module", [baselines, evaluation, protocols])
def test_all_is_honest(module: object) -> None:
    exported = module.__all__  # type: ignore[attr-defined]
    assert sorted(exported) == sorted(set(exported))
    for name in exported:
        assert hasattr(module, name), name


@pytest.mark.parametrize("name", [n for n in baselines.__all__ if inspect.isclass(getattr(baselines, n))])
def test_estimators_store_their_arguments_only(name: str) -> None:
    cls = getattr(baselines, name)
    assert issubclass(cls, BaseEstimator)
    args = {"estimator": BaseEstimator()} if name == "PerComponentClassifier" else {}
    estimator = cls(**args)
    params = estimator.get_params(deep=False)
    assert set(params) == set(inspect.signature(cls).parameters)
    assert not [k for k in vars(estimator) if k.endswith("_")]
    assert clone(estimator).get_params(deep=False).keys() == params.keys()
