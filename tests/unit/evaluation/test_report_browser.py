"""report.html of a real evaluation in headless Chromium: no console error, nothing fetched, charts drawn,
the language switch, and (when asked) the screenshots in docs/img.

Needs Playwright for Python (the ``dev`` extra) and a Chromium at /usr/bin/chromium (Debian's ``chromium``
package; Playwright's own browser download is never used), and a CJK font for the Chinese screenshot
(``fonts-noto-cjk``); ``.ci/run`` installs both. The screenshots are written only when asked:

    OMNIMAINT_SCREENSHOTS=docs/img .venv/bin/python -m pytest tests/unit/evaluation/test_report_browser.py
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnimaint.evaluation.model_eval import evaluate_bundle
from omnimaint.evaluation.report import write_report
from tests.unit.screenshots import save_screenshot

CHROMIUM = Path(os.environ.get("OMNIMAINT_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HAN = re.compile(r"[\u4e00-\u9fff]")

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set OMNIMAINT_CHROMIUM)"
)


@pytest.fixture(scope="module")
def report(trained_bundle: Path, small_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the small plant's bundle on its validation assets (its test asset holds no failure to show)."""
    evaluation = evaluate_bundle(trained_bundle, small_plant, split="val")
    _, path = write_report(evaluation, tmp_path_factory.mktemp("report"), "runs/train/bundle on plant (val)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


def test_report_in_chromium(report: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    fetched: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(report.as_uri())
    english, chinese = page.locator('main[data-lang="en"]'), page.locator('main[data-lang="zh"]')
    assert english.is_visible() and not chinese.is_visible()
    assert not HAN.search(english.inner_text())
    charts = page.locator('main[data-lang="en"] svg.chart')
    assert charts.count() >= 3 + 3  # a timeline per asset, the confusion matrices, the curves ...
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80, (i, box)
    save_screenshot(page, "report-en.png", full_page=True)

    page.get_by_role("button", name="中文").click()
    assert chinese.is_visible() and not english.is_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    text = chinese.inner_text()
    assert "概览" in text and "报警" in text and "故障诊断" in text
    assert len(HAN.findall(text)) > 300
    assert page.get_by_role("heading", name="Alerts", exact=True).count() == 0  # hidden with the English body
    for i in range(page.locator('main[data-lang="zh"] svg.chart').count()):
        box = page.locator('main[data-lang="zh"] svg.chart').nth(i).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80
    save_screenshot(page, "report-zh.png", full_page=True)

    page.goto(report.as_uri() + "#alerts-zh")  # a link to a section opens its language
    assert chinese.is_visible()
    page.get_by_role("button", name="English").click()
    assert english.is_visible() and page.url.endswith("#en")

    assert errors == []
    assert {url.split(":", 1)[0] for url in fetched} <= {"file", "data"}, fetched
    page.close()
