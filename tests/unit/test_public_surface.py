"""Every package declares its public surface once in ``__all__``, and every name there exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "omnimaint",
    "omnimaint.data",
    "omnimaint.sim",
    "omnimaint.adapters",
    "omnimaint.models",
    "omnimaint.inference",
    "omnimaint.evaluation",
    "omnimaint.evaluation.protocols",
    "omnimaint.evaluation.report",
    "omnimaint.training",
    "omnimaint.atomic",
    "omnimaint.baselines",
    "omnimaint.cli",
    "omnimaint.diagnosis",
    "omnimaint.service.ui",
    "omnimaint.service.synthetic",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_declared_and_honest(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} needs a docstring saying what it owns"
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} must declare __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats names"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    public = {
        n for n, v in vars(module).items() if not n.startswith("_") and getattr(v, "__module__", "").startswith(name)
    }
    undeclared = sorted(public - set(exported) - {"annotations"})
    assert not undeclared, f"{name} defines public names missing from __all__: {undeclared}"
