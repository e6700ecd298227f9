"""The alarm rules a service or worker runs: the bundle's calibrated threshold, overridden by a rules file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.inference.bundle import Bundle
from omnimaint.service.alarm_engine import AlarmRule, AlarmRules
from omnimaint.yamlfile import read_yaml


def alarm_rules(bundle: Bundle, path: Path | None) -> AlarmRules:
    """The alarm rules: the bundle's calibrated threshold of its shortest horizon (0.5 when it has none), with
    the rule fields and per-asset overrides of the YAML file ``path`` (``default:``, ``overrides:``)."""

    thresholds = bundle.thresholds.failure_probability
    spec: Any = {} if path is None else read_yaml(path, "the alarm rules") or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: the alarm rules must be a mapping with 'default:' and 'overrides:'")
    given = spec.get("default", {})
    default = {"threshold": thresholds[0] if thresholds else 0.5, **(given if isinstance(given, dict) else {})}
    if "deadband" not in default and isinstance(default["threshold"], float | int):
        # The rule's 0.05 suits thresholds near 0.5; a bundle calibrated to a rare-failure plant may alert at
        # 0.001, where a deadband of half the threshold keeps the hysteresis meaningful.
        default["deadband"] = min(0.05, float(default["threshold"]) / 2)
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: 'default:' must be a mapping of rule fields")
    try:
        return AlarmRules.model_validate(
            {
                "horizon_index": 0,
                "horizon_hours": bundle.window.horizons[0].total_seconds() / 3600,
                "default": AlarmRule.model_validate(default),
                "overrides": spec.get("overrides", {}),
            }
        )
    except ValidationError as exc:
        raise ConfigError(f"{path or 'alarm rules'}: {describe_validation_error(exc)}") from exc
