"""The dashboard in headless Chromium against a real ``omnimaint serve`` (its scorer in a process of its own) fed by
``omnimaint replay``: the fleet lists every asset, an alarm appears live without a reload, an operator acknowledges
and resolves it and the audit trail shows it, a viewer has no action and a forged POST is refused, the switch shows
Chinese, the asset page's charts hold data and draw it, and every page passes axe-core with no serious or critical
violation and logs no console error (the pages run under their strict Content-Security-Policy).

Needs Playwright for Python and a Chromium at /usr/bin/chromium (Playwright's own browser download is never
used). The screenshots of docs/img/dashboard are written only when asked:

    OMNIMAINT_SCREENSHOTS=docs/img/dashboard .venv/bin/python -m pytest -m e2e tests/unit/service/ui/test_browser.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.service import db
from omnimaint.service.auth import Role, create_key
from omnimaint.service.replay import assets_payload
from tests.unit.screenshots import SCREENSHOTS, save_screenshot
from tests.unit.service.conftest import free_port
from tests.unit.service.ui.conftest import ALARM_RULES

CHROMIUM = Path(os.environ.get("OMNIMAINT_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "tablet": {"width": 820, "height": 1180}}
HAN = re.compile(r"[\u4e00-\u9fff]")

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
pytestmark = [
    pytest.mark.e2e,  # real processes for a minute or more: `make test-e2e` (docs/decisions.md, "The test suite's time")
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set OMNIMAINT_CHROMIUM)",
    ),
]


@dataclass
class Served:
    """A running ``omnimaint serve`` with a key per role, fed part of the live plant (one asset held back)."""

    url: str
    keys: dict[str, str]
    plant: Path
    held_back: str
    data_dir: Path

    def replay(self, assets: list[str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "omnimaint", "replay", str(self.plant), "--to", self.url]
        command += [*(arg for a in assets for arg in ("--assets", a)), "--slice-hours", "12", "--no-progress"]
        command += ["--no-register"]
        env = {**os.environ, "OMNIMAINT_API_KEY": self.keys["admin"]}
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def alarms(self, state: str = "active") -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/alarms", params={"state": state}, headers={"X-API-Key": self.keys["admin"]})
        return list(answer.json())


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(case_bundle: Path, live_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    data_dir = folder / "service"
    engine = db.open_store(f"sqlite:///{data_dir / 'omnimaint.db'}")
    keys = {role.value: create_key(engine, role.value, role) for role in Role}
    engine.dispose()
    rules = folder / "alarms.yaml"
    rules.write_text(ALARM_RULES, encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "omnimaint", "serve", "--bundle", str(case_bundle), "--data-dir", str(data_dir)]
    command += ["--port", str(port), "--alarm-rules", str(rules), "--scorer-thread"]  # quicker to start
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert server.poll() is None, (folder / "serve.log").read_text(errors="replace")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(up, "the server starts")
        dataset = Dataset(live_plant)
        assets = sorted(dataset.asset_ids)
        registered = httpx.put(
            f"{url}/api/assets", json=assets_payload(dataset, None), headers={"X-API-Key": keys["admin"]}
        )
        assert registered.status_code == 200, registered.text
        plant = Served(url, keys, live_plant, assets[-1], data_dir)
        # The replay goes on while the tests run (they need the first scored windows, not every one); the
        # screenshots wait for the whole of it, so that they show the same data each time.
        feeding = plant.replay(assets[:-1])
        _wait(lambda: len(plant.alarms()) > 0 or feeding.poll() not in (None, 0), "the replayed assets raise alarms")
        assert feeding.poll() in (None, 0), feeding.stderr.read().decode() if feeding.stderr else ""
        if SCREENSHOTS:
            assert feeding.wait(300) == 0
        yield plant
        if feeding.poll() is None:
            feeding.terminate()
            feeding.wait(30)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


class Tab:
    """A signed-in browser tab that records console errors and failed page scripts."""

    def __init__(self, chromium: Any, served: Served, role: str, viewport: str = "desktop", lang: str = "en") -> None:
        self.served = served
        self.context = chromium.new_context(
            viewport=VIEWPORTS[viewport], locale="zh-CN" if lang == "zh" else "en-GB", timezone_id="Asia/Shanghai"
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(f"{self.page.url}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"{self.page.url}: {e}"))
        self.page.goto(f"{served.url}/ui/login")
        self.page.fill("#api-key", served.keys[role])
        self.page.click("form button[type=submit]")
        self.page.wait_for_url(f"{served.url}/ui/")

    def go(self, path: str) -> Any:
        self.page.goto(self.served.url + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self) -> None:
        self.context.close()
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)


@pytest.fixture
def tabs(chromium: Any, served: Served) -> Iterator[Callable[..., Tab]]:
    """Opens signed-in tabs; each is closed after the test, which fails on any console error it logged."""
    opened: list[Tab] = []

    def open_tab(role: str, viewport: str = "desktop", lang: str = "en") -> Tab:
        opened.append(Tab(chromium, served, role, viewport, lang))
        return opened[-1]

    yield open_tab
    for tab in opened:
        tab.close()


def test_the_fleet_lists_every_asset(served: Served, tabs: Callable[..., Tab]) -> None:
    page = tabs("viewer").go("/ui/")
    rows = page.locator("table.fleet tbody tr th a").all_inner_texts()
    assert sorted(rows) == sorted(Dataset(served.plant).asset_ids)
    assert page.locator("table.fleet td.num").first.inner_text().endswith("%")


def test_an_alarm_appears_live_without_a_reload(served: Served, tabs: Callable[..., Tab]) -> None:
    page = tabs("operator").go("/ui/alarms")
    page.wait_for_selector("#live[data-state=on]")
    page.evaluate("window.__notReloaded = true")
    assert page.locator(f"#alarm-table a[href='/ui/assets/{served.held_back}']").count() == 0
    replay = served.replay([served.held_back])
    try:
        page.wait_for_selector(f"#alarm-table a[href='/ui/assets/{served.held_back}']", timeout=120_000)
    finally:
        assert replay.wait(300) == 0
    assert page.evaluate("window.__notReloaded") is True, "the row came by the live stream, not a reload"
    badge = int(page.locator("#active-alarms").get_attribute("data-count") or 0)
    assert badge >= page.locator("#alarm-table tbody tr[data-alarm]").count() > 0


def test_an_operator_acknowledges_and_resolves_and_the_audit_trail_shows_it(
    served: Served, tabs: Callable[..., Tab]
) -> None:
    alarm = served.alarms("open")[0]["id"]
    page = tabs("operator").go(f"/ui/alarms/{alarm}")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(re.compile(r"done=acknowledged"))
    audit = page.locator("#alarm-audit tbody tr[data-action='acknowledged']")
    assert "operator" in audit.inner_text()
    page.fill("input[name=work_order_id]", "WO-4711")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(r"done=resolved"))
    resolved = page.locator("#alarm-audit tbody tr[data-action='resolved']").inner_text()
    assert "operator" in resolved and "WO-4711" in resolved
    assert page.locator("form[action$='/acknowledge'], form[action$='/resolve']").count() == 0, "nothing left to do"


def test_a_viewer_has_no_action_buttons_and_a_forged_post_is_refused(served: Served, tabs: Callable[..., Tab]) -> None:
    alarm = served.alarms("open")[0]["id"]
    page = tabs("viewer").go(f"/ui/alarms/{alarm}")
    assert page.locator("section.actions form").count() == 0
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    forged = page.request.post(f"{served.url}/ui/alarms/{alarm}/acknowledge", form={"note": "x"}, max_redirects=0)
    assert forged.status == 403, "no CSRF token"
    as_viewer = page.request.post(
        f"{served.url}/ui/alarms/{alarm}/acknowledge", form={"csrf_token": token or ""}, max_redirects=0
    )
    assert as_viewer.status == 403, "a viewer's own token does not give the operator's role"
    assert next(a for a in served.alarms("open") if a["id"] == alarm)["state"] == "open"


def test_the_language_switch_shows_chinese(tabs: Callable[..., Tab]) -> None:
    page = tabs("viewer").go("/ui/")
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "设备总览"
    assert len(HAN.findall(page.locator("main").inner_text())) > 20
    time_text = page.locator("table.fleet time").first.inner_text()
    assert HAN.search(time_text) or re.search(r"\d{4}", time_text), "times re-rendered in the page's language"


CHART_CHECK = """() => window.omnimaint.charts.filter(c => c.root.isConnected).map(c => {
  const canvas = c.root.querySelector('canvas');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return {points: c.data.slice(1).map(s => s.filter(v => v !== null).length), inked: inked};
})"""


def test_the_asset_pages_charts_draw_their_data(served: Served, tabs: Callable[..., Tab]) -> None:
    page = tabs("viewer").go(f"/ui/assets/{sorted(Dataset(served.plant).asset_ids)[0]}?range=7d")
    charts = page.evaluate(CHART_CHECK)
    assert len(charts) >= 5, "telemetry channels, risk, health, RUL, spectrum"
    for chart in charts:
        assert max(chart["points"]) > 0 and chart["inked"] > 500, chart
    box = page.locator(".stack .plot").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    zoomed = page.evaluate(
        "window.omnimaint.charts.filter(c => c.omSync === 'asset').map(c => c.scales.x.max - c.scales.x.min)"
    )
    assert len({round(z) for z in zoomed}) == 1 and zoomed[0] < 7 * 86400 * 0.5, "every chart follows the zoom"
    page.get_by_role("button", name="Reset zoom").click()
    assert (
        page.evaluate("window.omnimaint.charts[0].scales.x.max - window.omnimaint.charts[0].scales.x.min") > 6 * 86400
    )


def _pages(served: Served) -> dict[str, str]:
    alarm = served.alarms("active")[-1]["id"]
    asset = sorted(Dataset(served.plant).asset_ids)[0]
    return {
        "fleet": "/ui/",
        "asset": f"/ui/assets/{asset}",
        "alarms": "/ui/alarms",
        "alarm": f"/ui/alarms/{alarm}",
        "kpis": "/ui/kpis",
        "cases": "/ui/cases?q=bearing%20noise%2C%20high%20vibration",
        "keys": "/ui/keys",
    }


def _axe(page: Any) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe_and_logs_no_console_error(served: Served, tabs: Callable[..., Tab]) -> None:
    violations: list[str] = []
    pages = _pages(served)
    for lang in ("en", "zh"):
        for viewport in VIEWPORTS if SCREENSHOTS else ("desktop",):
            tab = tabs("admin", viewport, lang)
            tab.go(f"/ui/lang/{lang}?next=/ui/")
            for name, path in pages.items():
                page = tab.go(path)
                if name == "alarm":
                    page.wait_for_selector("#dx-modalities", timeout=60_000)
                    page.wait_for_load_state("networkidle")
                if viewport == "desktop":
                    violations += [f"{name} ({lang}): {v}" for v in _axe(page)]
                save_screenshot(page, f"{name}-{lang}-{viewport}.png", median_cut=True)
                if name == "alarm":
                    page.locator("#diagnosis").scroll_into_view_if_needed()
                    save_screenshot(page, f"diagnosis-{lang}-{viewport}.png", median_cut=True)
            signed_out = tab.context.browser.new_context(viewport=VIEWPORTS[viewport])
            signed_out.add_cookies([{"name": "omnimaint_lang", "value": lang, "url": served.url}])
            login = signed_out.new_page()
            login.goto(f"{served.url}/ui/alarms")
            assert login.url.startswith(f"{served.url}/ui/login?next=/ui/alarms"), "no page without a session"
            if viewport == "desktop":
                violations += [f"login ({lang}): {v}" for v in _axe(login)]
            save_screenshot(login, f"login-{lang}-{viewport}.png", median_cut=True)
            signed_out.close()
    assert not violations, "axe-core found serious or critical violations:\n" + "\n".join(violations)
