"""PlantConfig: defaults of the contract, one-message validation, JSON provenance."""

from __future__ import annotations

import json
import types

import pytest

import omnimaint.sim
from omnimaint.errors import ConfigError
from omnimaint.sim import FAULT_TYPES, PlantConfig, build_manifest


def test_defaults_follow_the_contract() -> None:
    config = PlantConfig()
    assert (config.n_assets, config.days, config.seed, config.lang, config.workers) == (12, 30, 0, "en", 2)
    assert (config.telemetry_period_s, config.waveform_period_s, config.frame_period_s) == (600, 3600, 3600)
    assert (config.waveform_rate_hz, config.waveform_duration_s, config.frame_size) == (4096, 0.5, 64)
    assert config.burst_samples == 2048
    assert config.active_fault_modes == FAULT_TYPES
    assert config.start_datetime.isoformat() == "2024-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_assets", 0, "n_assets must be >= 1"),
        ("days", -1.0, "days must be > 0"),
        ("telemetry_period_s", 0.0, "telemetry_period_s must be > 0"),
        ("frame_size", 8, "frame_size must be in"),
        ("workers", 0, "workers must be >= 1"),
        ("lang", "fr", "lang must be"),
        ("pm_skip_prob", 1.5, "pm_skip_prob must be in [0, 1]"),
        ("fault_modes", ("rust",), "fault_modes must be"),
        ("start", "2024-01-01T00:00:00", "no time zone"),
        ("start", "yesterday", "not an ISO-8601"),
        ("waveform_duration_s", 0.001, "a burst must hold"),
    ],
)
def test_invalid_values_raise_config_errors_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid plant config") as caught:
        PlantConfig(**{field: value})  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        PlantConfig(n_assets=0, days=0)
    assert "n_assets" in str(caught.value) and "days" in str(caught.value)


def test_fault_modes_may_be_restricted_and_lists_are_accepted() -> None:
    config = PlantConfig(fault_modes=["seal_leak", "bearing_wear"])  # type: ignore[arg-type]
    assert config.fault_modes == ("seal_leak", "bearing_wear")
    assert config.active_fault_modes == ("bearing_wear", "seal_leak")


def test_config_serialises_to_json_for_provenance() -> None:
    config = PlantConfig(fault_modes=("seal_leak",), lang="zh")
    raw = json.loads(json.dumps(config.to_dict()))
    assert PlantConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}) == config
    manifest = build_manifest(config)
    assert manifest.provenance["config"] == raw
    assert manifest.fault_types == FAULT_TYPES  # the label vocabulary does not depend on the restriction


def test_manifest_lists_only_the_asset_types_present() -> None:
    manifest = build_manifest(PlantConfig(n_assets=1))
    assert list(manifest.components) == ["centrifugal_pump"]
    assert "belt_speed" not in manifest.channel_names("telemetry")
    assert manifest.channel_names("waveform") == ("accel_de",)


def test_public_surface_is_declared_once_and_honest() -> None:
    exported = omnimaint.sim.__all__
    assert len(set(exported)) == len(exported)
    assert all(hasattr(omnimaint.sim, name) for name in exported)
    public = {
        name
        for name, value in vars(omnimaint.sim).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(exported)
