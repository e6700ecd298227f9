"""The one registry type: registration, lookup, listings, and errors that name the known entries."""

from __future__ import annotations

import logging

import pytest

from omnimaint.errors import ConfigError, OmnimaintError
from omnimaint.registry import Registry


class _PartError(OmnimaintError):
    """The error an owner chooses for its registry."""


def _fusions() -> Registry[int]:
    registry: Registry[int] = Registry("fusion", _PartError)
    registry.register("late", 2)
    registry.register("cross_attention", 1)
    return registry


def test_get_returns_what_was_registered_and_listings_are_sorted_or_in_registration_order() -> None:
    registry = _fusions()
    assert registry.get("late") == 2
    assert registry.names() == list(registry) == ["cross_attention", "late"]
    assert registry.items() == [("late", 2), ("cross_attention", 1)]
    assert "late" in registry and "early" not in registry and 3 not in registry
    assert len(registry) == 2


def test_an_unknown_name_raises_the_owners_error_naming_the_known_ones() -> None:
    with pytest.raises(_PartError, match=r"^unknown fusion 'early'; known fusions: cross_attention, late$"):
        _fusions().get("early")
    with pytest.raises(ConfigError, match=r"^unknown encoder 'x'; known encoders: \(none\)$"):
        Registry[int]("encoder", ConfigError).get("x")


def test_an_owned_registry_names_its_owner() -> None:
    methods: Registry[str] = Registry("method", _PartError, owner="protocol 'cmapss'")
    methods.register("gbdt", "boosted trees")
    with pytest.raises(_PartError, match=r"^protocol 'cmapss' has no method 'lstm'; its methods: gbdt$"):
        methods.get("lstm")
    with pytest.raises(_PartError, match=r"^protocol 'cmapss': method 'gbdt' is registered already$"):
        methods.register("gbdt", "other trees")


def test_a_name_is_replaced_only_when_asked_and_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    registry = _fusions()
    with pytest.raises(_PartError, match="fusion 'late' is registered already"):
        registry.register("late", 3)
    assert registry.get("late") == 2
    with caplog.at_level(logging.WARNING, logger="omnimaint.registry"):
        assert registry.register("late", 3, replace=True) == 3
    assert registry.get("late") == 3
    assert caplog.messages == ["replacing fusion 'late'"]
    assert registry.items() == [("late", 3), ("cross_attention", 1)]  # in place, not moved to the end


def test_pop_removes_an_entry_and_refuses_an_unknown_one() -> None:
    registry = _fusions()
    assert registry.pop("late") == 2
    assert registry.names() == ["cross_attention"]
    with pytest.raises(_PartError, match="unknown fusion 'late'; known fusions: cross_attention"):
        registry.pop("late")
