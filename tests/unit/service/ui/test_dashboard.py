"""The dashboard through the service's app (TestClient) on a replayed, scored plant: sign-in and its cookie,
CSRF, roles, every page with its data, the operator's actions, languages, headers and the live stream."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from omnimaint.service import alarms, db
from omnimaint.service.auth import Role, create_key, revoke_key
from omnimaint.service.ui.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.unit.service.ui.conftest import CSRF_FIELD, Plant, csrf_of, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

VENDOR = Path(__file__).resolve().parents[4] / "src" / "omnimaint" / "service" / "ui" / "static" / "vendor"
HAN = re.compile(r"[\u4e00-\u9fff]")
SPEC = re.compile(r"data-spec='([^']*)'")


def _alarm_row(plant: Plant, alarm_id: int) -> dict[str, object]:
    engine = plant.client.app.state.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return dict(connection.execute(select(db.alarms).where(db.alarms.c.id == alarm_id)).mappings().one())


def _set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{name}=")]
    assert found, f"no {name} cookie set; cookies: {headers}"
    return str(found[0])


# --- sign-in ---------------------------------------------------------------------------------------------------


def test_no_page_without_a_session(plant: Plant) -> None:
    browser = plant.browser()
    for path in ("/ui/", f"/ui/assets/{plant.assets[0]}", "/ui/alarms", "/ui/kpis", "/ui/cases", "/ui/keys"):
        answer = browser.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/ui/login?next=" + path.split("?")[0]), path
    fragment = browser.get("/ui/fleet/table", headers={"HX-Request": "true", "HX-Current-URL": "http://t/ui/kpis"})
    assert fragment.headers["HX-Redirect"] == "/ui/login?next=/ui/kpis", "htmx is told to go to the sign-in page"
    assert browser.get("/ui/events").status_code == 401
    assert browser.get("/api/alarms").status_code == 401, "the API's key auth is unchanged"


def test_sign_in_sets_a_session_cookie_that_scripts_and_other_sites_cannot_use(plant: Plant) -> None:
    browser = plant.browser()
    form = browser.get("/ui/login?next=/ui/kpis")
    assert "HttpOnly" in _set_cookie(form, LOGIN_CSRF_COOKIE) and "SameSite=strict" in _set_cookie(
        form, LOGIN_CSRF_COOKIE
    )
    token = CSRF_FIELD.search(form.text)
    assert token is not None
    answer = browser.post(
        "/ui/login",
        data={"api_key": plant.keys["viewer"], "csrf_token": token.group(1), "next": "/ui/kpis"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/kpis"
    cookie = _set_cookie(answer, SESSION_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie, "not over plain http"
    assert plant.keys["viewer"] not in cookie and plant.keys["viewer"].split(".")[1] not in cookie, "no secret"
    assert browser.get("/ui/kpis").status_code == 200
    secure = plant.browser(https=True)
    form = secure.get("/ui/login")
    token = CSRF_FIELD.search(form.text)
    assert token is not None
    answer = secure.post(
        "/ui/login", data={"api_key": plant.keys["viewer"], "csrf_token": token.group(1)}, follow_redirects=False
    )
    assert "Secure" in _set_cookie(answer, SESSION_COOKIE), "over https the cookie is Secure"


def test_a_wrong_key_or_a_forged_sign_in_form_gets_no_session(plant: Plant) -> None:
    browser = plant.browser()
    token = csrf_of(browser.get("/ui/login").text)
    wrong = browser.post("/ui/login", data={"api_key": plant.keys["viewer"][:-2] + "xx", "csrf_token": token})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    forged = plant.browser()  # another site's form: no double-submit cookie of this dashboard
    answer = forged.post("/ui/login", data={"api_key": plant.keys["viewer"], "csrf_token": token})
    assert answer.status_code == 403 and SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    away = plant.browser()
    token = csrf_of(away.get("/ui/login").text)
    answer = away.post(
        "/ui/login",
        data={"api_key": plant.keys["viewer"], "csrf_token": token, "next": "//evil.example/ui/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/ui/", "no redirect off the dashboard"


def test_sign_out_ends_the_session_and_a_revoked_key_ends_its_sessions(plant: Plant) -> None:
    browser = plant.browser("viewer")
    stolen = browser.cookies.get(SESSION_COOKIE)
    assert stolen is not None
    csrf = csrf_of(browser.get("/ui/").text)
    out = browser.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert 'omnimaint_session=""' in _set_cookie(out, SESSION_COOKIE) or "Max-Age=0" in _set_cookie(out, SESSION_COOKIE)
    replayed = plant.browser()
    replayed.cookies.set(SESSION_COOKIE, stolen, path="/ui")
    assert replayed.get("/ui/", follow_redirects=False).status_code == 303, "a signed-out token is refused"

    engine = plant.client.app.state.services.store.engine  # type: ignore[attr-defined]
    key = create_key(engine, "temporary", Role.viewer)
    temporary = plant.browser()
    sign_in(temporary, key)
    assert temporary.get("/ui/").status_code == 200
    revoke_key(engine, key.split(".")[0].removeprefix("om_"))
    assert temporary.get("/ui/", follow_redirects=False).status_code == 303, "revoking the key ends its sessions"


# --- CSRF and roles --------------------------------------------------------------------------------------------


def test_a_post_without_the_sessions_csrf_token_is_refused(plant: Plant) -> None:
    alarm = plant.fresh_alarm()
    operator = plant.browser("operator")
    other = plant.browser("operator")
    foreign = csrf_of(other.get("/ui/").text)
    for data in ({}, {"csrf_token": "x" * 43}, {"csrf_token": foreign}):
        answer = operator.post(f"/ui/alarms/{alarm}/acknowledge", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "form has expired" in answer.text, data
    assert _alarm_row(plant, alarm)["state"] == "open", "nothing was done"


def test_a_viewer_sees_no_action_and_cannot_act(plant: Plant) -> None:
    alarm = plant.fresh_alarm()
    viewer = plant.browser("viewer")
    page = viewer.get(f"/ui/alarms/{alarm}")
    assert page.status_code == 200
    assert "/acknowledge" not in page.text and "/resolve" not in page.text and "needs the operator role" in page.text
    csrf = csrf_of(page.text)  # the sign-out form's: a valid token of the viewer's own session
    for action in ("acknowledge", "resolve", "unshelve"):
        answer = viewer.post(f"/ui/alarms/{alarm}/{action}", data={"csrf_token": csrf}, follow_redirects=False)
        assert answer.status_code == 403 and "needs the operator role" in answer.text
    shelve = viewer.post(f"/ui/alarms/{alarm}/shelve", data={"csrf_token": csrf, "hours": 1, "reason": "x"})
    assert shelve.status_code == 403
    assert _alarm_row(plant, alarm)["state"] == "open"
    assert viewer.get("/ui/keys").status_code == 403
    assert "API keys" not in viewer.get("/ui/").text, "the admin's page is not offered"
    assert plant.browser("operator").get("/ui/keys").status_code == 403


def test_an_operator_acknowledges_shelves_and_resolves_and_the_audit_trail_says_so(plant: Plant) -> None:
    alarm = plant.fresh_alarm()
    operator = plant.browser("operator")
    page = operator.get(f"/ui/alarms/{alarm}")
    csrf = csrf_of(page.text)
    assert f"/ui/alarms/{alarm}/acknowledge" in page.text and f"/ui/alarms/{alarm}/shelve" in page.text
    ack = operator.post(
        f"/ui/alarms/{alarm}/acknowledge", data={"csrf_token": csrf, "note": "on it"}, follow_redirects=False
    )
    assert ack.status_code == 303 and ack.headers["location"] == f"/ui/alarms/{alarm}?done=acknowledged"
    shelved = operator.post(
        f"/ui/alarms/{alarm}/shelve", data={"csrf_token": csrf, "hours": 4, "reason": "pump isolated"}
    )
    assert shelved.status_code == 200 and "Alarm shelved." in shelved.text
    row = _alarm_row(plant, alarm)
    assert row["state"] == "acknowledged" and row["shelve_reason"] == "pump isolated"
    resolved = operator.post(f"/ui/alarms/{alarm}/resolve", data={"csrf_token": csrf, "work_order_id": "WO-7731"})
    assert resolved.status_code == 200 and "Alarm resolved." in resolved.text and "work order WO-7731" in resolved.text
    again = operator.post(f"/ui/alarms/{alarm}/resolve", data={"csrf_token": csrf}, follow_redirects=False)
    assert again.status_code == 409 and "Not done" in again.text and "cannot be resolved again" in again.text
    engine = plant.client.app.state.services.store.engine  # type: ignore[attr-defined]
    trail = alarms.audit_trail(engine, alarm)
    assert [(t["actor"], t["action"]) for t in trail][-3:] == [
        ("operator", "acknowledged"),
        ("operator", "shelved"),
        ("operator", "resolved"),
    ]
    audit = operator.get(f"/ui/alarms/{alarm}/panel").text
    assert audit.count('data-action="') == len(trail) and "WO-7731" in audit


# --- pages -----------------------------------------------------------------------------------------------------


def test_the_fleet_lists_every_asset_with_its_risk(plant: Plant) -> None:
    page = plant.browser("viewer").get("/ui/")
    assert page.status_code == 200
    for asset in plant.assets:
        assert f'href="/ui/assets/{asset}"' in page.text
    assert f"{len(plant.assets)} assets, riskiest first" in page.text
    assert page.text.count("Failure risk within") == 2, "a column per horizon"
    assert re.search(r'class="num( over)?">\d+%', page.text), "risk as a percentage"
    filtered = plant.browser("viewer").get("/ui/fleet/table?site=nowhere")
    assert "0 assets" in filtered.text


def test_the_asset_page_charts_telemetry_over_the_risk_timeline(plant: Plant) -> None:
    asset = plant.assets[0]
    browser = plant.browser("viewer")
    for period in ("24h", "7d", "30d"):
        page = browser.get(f"/ui/assets/{asset}?range={period}")
        assert page.status_code == 200, period
        specs = [json.loads(unescape(s)) for s in SPEC.findall(page.text)]
        timed = [s for s in specs if s["sync"] == "asset"]
        assert len(timed) >= 4, "telemetry channels, then risk, health and RUL"
        assert all(s["range"] == timed[0]["range"] for s in timed), "one time axis"
        assert all(any(v is not None for v in s["series"][0]["values"]) for s in timed), period
        assert sum(s["xAxis"] for s in timed) == 2, "the time axis under each stack"
    assert 'src="/ui/assets/' in page.text and "/frames/" in page.text, "camera frames"
    assert "Vibration spectrum" in page.text and any(s["x"] == "number" for s in specs), "a spectrum"
    frame = re.search(r'src="(/ui/assets/[^"]+/frames/[^"]+)"', page.text)
    assert frame is not None
    image = browser.get(frame.group(1))
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert browser.get(f"/ui/assets/{asset}/frames/cam0/1").status_code == 404
    assert browser.get(f"/ui/assets/{asset}/frames/..%2F..%2Fomnimaint.db/1").status_code == 404
    assert browser.get("/ui/assets/NOPE").status_code == 404
    assert browser.get(f"/ui/assets/{asset}?range=1y").status_code == 422


def test_the_alarm_page_and_its_diagnosis_card(plant: Plant) -> None:
    alarm = plant.alarms("active")[-1]
    browser = plant.browser("viewer")
    page = browser.get(f"/ui/alarms/{alarm['id']}")
    assert page.status_code == 200 and f"/ui/alarms/{alarm['id']}/diagnosis" in page.text
    started = time.perf_counter()
    card = browser.get(f"/ui/alarms/{alarm['id']}/diagnosis")
    first = time.perf_counter() - started
    assert card.status_code == 200 and "could not be made" not in card.text, card.text[:500]
    for section in ("dx-modalities", "dx-suggestions", "dx-cases", "dx-telemetry", "dx-frames", "dx-logs"):
        assert f'id="{section}"' in card.text
    assert "data:image/png;base64," in card.text, "the heat map"
    assert all(json.loads(unescape(s))["xs"] for s in SPEC.findall(card.text)), "evidence charts hold data"
    started = time.perf_counter()
    again = browser.get(f"/ui/alarms/{alarm['id']}/diagnosis")
    assert again.text == card.text and time.perf_counter() - started < first, "kept, not computed again"
    chinese = browser.get(f"/ui/alarms/{alarm['id']}/diagnosis", headers={"Accept-Language": "zh-CN"})
    assert "可能的故障" in chinese.text, "kept per language"
    english = [p for p in re.findall(r'<p class="empty">([^<]*)</p>', chinese.text) if re.search(r"\b(no|the|of)\b", p)]
    assert not english, "why there is nothing to show is said in Chinese too"
    missing = browser.get("/ui/alarms/987654321/diagnosis")
    assert missing.status_code == 200 and "could not be made: alarm 987654321 does not exist" in missing.text
    assert browser.get("/ui/alarms/987654321").status_code == 404


def test_the_alarm_list_kpis_cases_and_keys_pages(plant: Plant) -> None:
    viewer = plant.browser("viewer")
    listing = viewer.get("/ui/alarms?state=all")
    assert listing.status_code == 200
    assert listing.text.count('<tr data-alarm="') == len(plant.alarms("resolved")) + len(plant.alarms("active"))
    mine = viewer.get(f"/ui/alarms/table?state=active&asset={plant.assets[1]}")
    assert (
        f'href="/ui/assets/{plant.assets[1]}"' in mine.text and f'href="/ui/assets/{plant.assets[0]}"' not in mine.text
    )
    kpis = viewer.get("/ui/kpis?days=7")
    assert kpis.status_code == 200 and "Alarms raised" in kpis.text and "Bad actors: assets" in kpis.text
    per_day = json.loads(unescape(SPEC.findall(kpis.text)[0]))
    assert sum(per_day["series"][0]["values"]) > 0 and len(per_day["xs"]) == 7
    cases = viewer.get("/ui/cases", params={"q": "bearing noise, high vibration"})
    assert cases.status_code == 200 and "Suggested actions" in cases.text
    assert len(re.findall(r'<li class="case">', cases.text)) == 10
    chinese = viewer.get("/ui/cases", params={"q": "轴承异响 振动大"})
    assert chinese.status_code == 200 and '<li class="case">' in chinese.text, "any language"
    admin = plant.browser("admin")
    keys = admin.get("/ui/keys")
    assert keys.status_code == 200 and "no-store" in keys.headers["cache-control"]
    csrf = csrf_of(keys.text)
    made = admin.post("/ui/keys", data={"csrf_token": csrf, "name": "line-3 tablet", "role": "operator"})
    assert made.status_code == 201 and re.search(r"om_[A-Za-z0-9]{12}\.", made.text), "the new key, shown once"
    key_id = re.search(r"om_([A-Za-z0-9]{12})\.", made.text).group(1)  # type: ignore[union-attr]
    revoked = admin.post(f"/ui/keys/{key_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    own = admin.cookies.get(SESSION_COOKIE).split(".")[1]  # type: ignore[union-attr]
    assert admin.post(f"/ui/keys/{own}/revoke", data={"csrf_token": csrf}).status_code == 409


# --- languages, headers, live ----------------------------------------------------------------------------------


def test_chinese_by_accept_language_and_by_the_switch(plant: Plant) -> None:
    browser = plant.browser("viewer")
    assert '<html lang="en">' in browser.get("/ui/").text
    by_header = browser.get("/ui/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in by_header.text and "设备总览" in by_header.text
    switched = browser.get("/ui/lang/zh?next=/ui/kpis", follow_redirects=False)
    assert switched.headers["location"] == "/ui/kpis"
    page = browser.get("/ui/kpis", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in page.text and "报警指标" in page.text, "the switch wins over the header"
    text = re.sub(r"<[^>]+>", " ", page.text.split("<main", 1)[1])
    assert len(HAN.findall(text)) > 50
    back = browser.get("/ui/lang/en?next=https://evil.example/", follow_redirects=False)
    assert back.headers["location"] == "/ui/"


def test_every_dashboard_response_carries_server_timing_and_security_headers(plant: Plant) -> None:
    browser = plant.browser("viewer")
    for path in ("/ui/", "/ui/login", "/ui/static/app.css", "/ui/assets/NOPE", "/ui/fleet/table"):
        answer = browser.get(path)
        assert re.fullmatch(r"app;dur=\d+\.\d", answer.headers["server-timing"]), path
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    api = browser.get("/health")
    assert "server-timing" not in api.headers, "the API's responses are left as they were"


def test_the_live_stream_tells_the_page_when_alarms_change(plant: Plant) -> None:
    dashboard = plant.client.app.state.dashboard  # type: ignore[attr-defined]
    dashboard.tick_s, dashboard.stream_s = 0.1, 1.5
    alarm = plant.fresh_alarm()
    engine = plant.client.app.state.services.store.engine  # type: ignore[attr-defined]

    def operator_acts() -> None:
        time.sleep(0.5)
        alarms.acknowledge(engine, alarm, "someone", 1)

    browser = plant.browser("viewer")
    threading.Thread(target=operator_acts).start()
    try:
        body = browser.get("/ui/events").text  # the stream closes after stream_s; the browser would reconnect
    finally:
        dashboard.tick_s, dashboard.stream_s = 1.0, 15.0
    events = [block for block in body.split("\n\n") if block.strip()]
    assert events[0] == "retry: 1000"
    assert "event: hello" in events[1]
    changed = next(e for e in events if "event: alarms" in e)
    active = len(plant.alarms("active"))
    assert json.loads(changed.split("data: ", 1)[1]) == {"active": active}
    last_id = re.search(r"id: (\S+)", changed).group(1)  # type: ignore[union-attr]
    dashboard.stream_s = 0.0
    try:
        resumed = browser.get("/ui/events", headers={"Last-Event-ID": "0-0"}).text
        current = browser.get("/ui/events", headers={"Last-Event-ID": last_id}).text
    finally:
        dashboard.stream_s = 15.0
    assert "event: alarms" in resumed and "event: scores" in resumed, "what changed since the last id it saw"
    assert "event:" not in current, "nothing new"


@pytest.mark.parametrize("folder", [VENDOR, Path(__file__).parent / "vendor"], ids=["static", "tests"])
def test_the_vendored_files_are_the_ones_recorded(folder: Path) -> None:
    table = (folder / "VENDORED.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \|[^\n]*\| `([0-9a-f]{64})` \|$", table, flags=re.MULTILINE)
    assert {name for name, _ in rows} == {p.name for p in folder.iterdir() if p.name != "VENDORED.md"}
    for name, digest in rows:
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_the_dashboard_stays_out_of_the_api_schema(plant: Plant) -> None:
    schema = plant.client.get("/openapi.json").json()
    assert not [path for path in schema["paths"] if path.startswith("/ui")]
