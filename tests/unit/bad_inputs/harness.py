"""What every bad-input test checks: one line naming what and where, a non-zero exit, nothing changed.

Each family of bad inputs (``test_<family>.py`` beside this file) builds a valid starting point, breaks
one thing, runs the real CLI in-process and calls :func:`assert_refused` with a :class:`Snapshot` of the
store and of the user's files taken before the command.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from omnimaint.cli import app

_runner = CliRunner()


def run_cli(*args: str | Path) -> Result:
    """Run ``omnimaint ARGS`` in this process (wide terminal, so nothing wraps) and return its result."""
    return _runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


@dataclass(frozen=True)
class Snapshot:
    """Every entry under some folders: kind, mode and (for files) SHA-256; symlinks by their target."""

    roots: tuple[Path, ...]
    entries: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, *roots: Path) -> Snapshot:
        entries: dict[str, tuple[str, ...]] = {}
        for root in roots:
            if not os.path.lexists(root):
                entries[str(root)] = ("absent",)
                continue
            paths = [root, *sorted(root.rglob("*"))] if root.is_dir() and not root.is_symlink() else [root]
            for path in paths:
                entries[str(path)] = _describe(path)
        return cls(roots, entries)

    def changes(self, other: Snapshot) -> list[str]:
        """Paths added, removed or changed between this snapshot and ``other``."""
        keys = sorted(set(self.entries) | set(other.entries))
        return [k for k in keys if self.entries.get(k) != other.entries.get(k)]


def _describe(path: Path) -> tuple[str, ...]:
    if path.is_symlink():
        return ("link", str(path.readlink()))
    if path.is_dir():
        return ("dir",)
    return ("file", hashlib.sha256(path.read_bytes()).hexdigest())


def assert_refused(result: Result, before: Snapshot, *fragments: str) -> str:
    """Check a refused command: exit 1, its whole output one ``error:`` line holding every fragment, and
    every path of ``before`` unchanged.

    Returns:
        The error line, for further checks.
    """
    output = result.output
    assert result.exit_code == 1, f"exit code {result.exit_code}, output:\n{output}\nexception: {result.exception!r}"
    assert isinstance(result.exception, SystemExit), f"not a clean exit: {result.exception!r}\n{output}"
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one 'error:' line, got:\n{output}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    changed = before.changes(Snapshot.of(*before.roots))
    assert not changed, f"the command changed {changed[:5]}"
    return lines[0]
