"""Reading a YAML file a user wrote (configs, alarm rules, OPC UA maps), with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omnimaint.errors import ConfigError


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document in ``path`` (``None`` for an empty file).

    Args:
        path: The file.
        what: What the file is, for messages (``"the config"``, ``"the OPC UA map"``).

    Raises:
        ConfigError: naming the file (and the line and column of a syntax error).
    """
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start} is not UTF-8; {what} is YAML text in UTF-8") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {where}not valid YAML ({exc.problem})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
