"""Progress bars: on stderr only, only on a terminal, only while shown; nested phases share one display."""

from __future__ import annotations

import pytest

from omnimaint.progress import progress_bar, progress_drawn, progress_shown, track


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Rich take stderr for a terminal."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_a_bar_is_drawn_on_a_terminal_on_stderr(terminal: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert progress_drawn()
    with progress_bar("cutting windows", 2) as advance:
        advance(1, description="cutting windows: telemetry")
        advance(1)
    captured = capsys.readouterr()
    assert "cutting windows" in captured.err and captured.out == ""


def test_no_bar_when_hidden_or_off_a_terminal(
    terminal: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with progress_shown(False), progress_bar("hidden", 1) as advance:
        assert not progress_drawn()
        advance(1)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert list(track(range(3), "off a terminal")) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_nested_phases_share_one_display(terminal: None, capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("ablation", 2) as outer:
        for name in ("telemetry", "frames"):
            assert list(track(range(2), f"scoring without {name} [/x] :x:")) == [0, 1]
            outer(1)
    err = capsys.readouterr().err
    assert "scoring without frames [/x] :x:" in err and "❌" not in err
