"""Ingestion: a batch is stored whole or not at all; every bad input gets its own 4xx and changes nothing."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from sqlalchemy import func, select

from omnimaint.data.dataset import Dataset
from omnimaint.service import db
from omnimaint.service.metrics import parse_samples
from omnimaint.service.replay import assets_payload
from tests.unit.service.conftest import Service, ServiceFactory

pytestmark = pytest.mark.timeout(600)


def _counts(service: Service) -> dict[str, int]:
    engine = service.client.app.state.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in db.metadata.tables.items()
            if name not in ("api_keys", "alarm_state")
        }


@pytest.fixture
def service(make_service: ServiceFactory, live_plant: Any) -> Service:
    """A service without its scorer (these tests look at the store only), with the plant's assets registered."""
    service = make_service(scorer=False)
    assets = assets_payload(Dataset(live_plant), None)
    assert service.client.put("/api/assets", json=assets, headers=service.headers("admin")).status_code == 200
    return service


def _asset_and_channel(service: Service) -> tuple[str, str]:
    state = service.client.app.state.services  # type: ignore[attr-defined]
    return sorted(state.store.asset_types)[0], state.predictor.bundle.preprocessor.vocab.telemetry_channels[0]


def _point(asset: str, channel: str, ts: str = "2024-01-02T00:00:00Z", value: object = 1.5) -> dict[str, Any]:
    return {"asset_id": asset, "ts": ts, "channel": channel, "value": value}


def _ingested(service: Service) -> float:
    samples = parse_samples(service.client.get("/metrics", headers=service.headers("viewer")).text)
    return samples['omnimaint_rows_ingested_total{table="telemetry"}']


def test_a_batch_is_stored_and_a_resent_one_is_not_stored_again(service: Service) -> None:
    asset, channel = _asset_and_channel(service)
    batch = {"telemetry": [_point(asset, channel), _point(asset, channel, "2024-01-02T00:30:00Z")]}
    first = service.client.post(
        "/api/ingest", json=batch, params={"idempotency_key": "b1"}, headers=service.headers("operator")
    )
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == {"telemetry": 2}
    before = _counts(service)
    stored = _ingested(service)
    again = service.client.post(
        "/api/ingest", json=batch, params={"idempotency_key": "b1"}, headers=service.headers("operator")
    )
    assert again.json() == {**first.json(), "resent": True}
    assert _ingested(service) == stored, "a resent batch is not counted as rows ingested again"
    unkeyed = service.client.post("/api/ingest", json=batch, headers=service.headers("operator"))
    assert (
        unkeyed.status_code == 200
        and unkeyed.json()["duplicates"] == 2
        and unkeyed.json()["stored"] == {"telemetry": 0}
    )
    assert _counts(service) == before


def _bad_batches(asset: str, channel: str) -> dict[str, tuple[int, bytes | dict[str, Any]]]:
    ok = _point(asset, channel, "2024-01-02T01:00:00Z")
    return {
        "malformed JSON": (422, b'{"telemetry": [}'),
        "wrong type": (422, {"telemetry": [ok, _point(asset, channel, value="hot")]}),
        "NaN": (
            422,
            b'{"telemetry": [{"asset_id": "%s", "ts": "2024-01-02T02:00:00Z", "channel": "%s", "value": NaN}]}'
            % (asset.encode(), channel.encode()),
        ),
        "infinity": (
            422,
            b'{"telemetry": [{"asset_id": "%s", "ts": "2024-01-02T02:00:00Z", "channel": "%s", "value": Infinity}]}'
            % (asset.encode(), channel.encode()),
        ),
        "unknown asset": (404, {"telemetry": [ok, _point("no-such-asset", channel)]}),
        "unknown channel": (422, {"telemetry": [ok, _point(asset, "no_such_channel")]}),
        "naive timestamp": (422, {"telemetry": [ok, _point(asset, channel, "2024-01-02T03:00:00")]}),
        "timestamp in the future": (422, {"telemetry": [ok, _point(asset, channel, "2099-01-01T00:00:00Z")]}),
        "timestamp before 1970": (422, {"telemetry": [ok, _point(asset, channel, "1960-01-01T00:00:00Z")]}),
        "timestamp past the year 9999 in UTC": (
            422,
            {"telemetry": [ok, _point(asset, channel, "9999-12-31T23:59:59-23:59")]},
        ),
        "older than stored": (409, {"telemetry": [_point(asset, channel, "2023-12-31T00:00:00Z")]}),
        "conflicting resend": (409, {"telemetry": [_point(asset, channel, "2024-01-02T00:00:00Z", 99.0)]}),
        "duplicate key in batch": (422, {"telemetry": [ok, ok]}),
        "unknown field": (422, {"telemetry": [ok], "comment": "x"}),
        "bad severity": (
            422,
            {
                "telemetry": [ok],
                "events": [{"asset_id": asset, "ts": "2024-01-02T01:00:00Z", "code": "E1", "severity": "meh"}],
            },
        ),
    }


@pytest.mark.parametrize("case", list(_bad_batches("a", "c")))
def test_a_bad_batch_gets_its_4xx_and_leaves_the_store_unchanged(service: Service, case: str) -> None:
    asset, channel = _asset_and_channel(service)
    stored = service.client.post(
        "/api/ingest", json={"telemetry": [_point(asset, channel)]}, headers=service.headers("operator")
    )
    assert stored.status_code == 200, stored.text
    before = _counts(service)
    status, body = _bad_batches(asset, channel)[case]
    if isinstance(body, bytes):
        response = service.client.post(
            "/api/ingest", content=body, headers={**service.headers("operator"), "Content-Type": "application/json"}
        )
    else:
        response = service.client.post("/api/ingest", json=body, headers=service.headers("operator"))
    assert response.status_code == status, response.text
    assert response.json()["detail"], "every refusal says why"
    assert _counts(service) == before


def test_an_oversized_body_is_refused_before_it_is_read(make_service: ServiceFactory) -> None:
    service = make_service(scorer=False, max_body_bytes=1000)
    response = service.client.post(
        "/api/ingest",
        content=b"{" + b" " * 5000 + b"}",
        headers={**service.headers("operator"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "1,000" in response.json()["detail"]


def test_a_shelving_expiry_no_calendar_holds_is_refused_in_one_line(service: Service) -> None:
    """Found by the OpenAPI fuzzer: the year 1 at +23:00 is the year 0 in UTC (it answered 500)."""
    for until in ("0001-01-01T00:00:00+23:00", "9999-12-31T23:59:59-23:59"):
        body = {"until": until, "reason": "x"}
        response = service.client.post("/api/alarms/1/shelve", json=body, headers=service.headers("operator"))
        assert response.status_code == 422 and "UTC" in response.json()["detail"], response.text


def test_keys_and_roles_guard_every_route_but_health(service: Service) -> None:
    asset, channel = _asset_and_channel(service)
    assert service.client.get("/health").status_code == 200
    for path in ("/ready", "/metrics", "/api/assets", "/api/alarms", "/api/alarm-kpis"):
        assert service.client.get(path).status_code == 401, path
        assert service.client.get(path, headers=service.headers("viewer")).status_code == 200, path
    batch = {"telemetry": [_point(asset, channel)]}
    assert service.client.post("/api/ingest", json=batch).status_code == 401
    assert service.client.post("/api/ingest", json=batch, headers={"X-API-Key": "om_nope.nope"}).status_code == 401
    assert service.client.post("/api/ingest", json=batch, headers=service.headers("viewer")).status_code == 403
    assert service.client.put("/api/assets", json=[], headers=service.headers("operator")).status_code == 403
    bearer = {"Authorization": f"Bearer {service.keys['operator']}"}
    assert service.client.post("/api/ingest", json=batch, headers=bearer).status_code == 200


def test_an_asset_of_a_type_the_bundle_does_not_know_is_refused(service: Service) -> None:
    before = _counts(service)
    response = service.client.put(
        "/api/assets", json=[{"asset_id": "X1", "asset_type": "submarine"}], headers=service.headers("admin")
    )
    assert response.status_code == 422 and "submarine" in response.json()["detail"]
    assert _counts(service) == before


def _png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` (its pixel data is one empty row: a bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def _image(fmt: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("good", 200),
        ("corrupted", 422),
        ("not an image", 422),
        ("GIF", 415),
        ("bomb", 413),
        ("unknown camera", 422),
        ("unknown asset", 404),
    ],
)
def test_frames_are_checked_before_they_are_stored(service: Service, case: str, status: int) -> None:
    asset, _ = _asset_and_channel(service)
    camera = service.client.app.state.services.predictor.bundle.preprocessor.vocab.cameras[0]  # type: ignore[attr-defined]
    data = {
        "good": _image(),
        "corrupted": _image()[:60],
        "not an image": b"%PDF-1.4 not an image at all",
        "GIF": _image("GIF"),
        "bomb": _png(60_000, 60_000),
    }.get(case, _image())
    form = {"ts": "2024-01-02T00:00:00Z", "camera": "cam-x" if case == "unknown camera" else camera}
    target = "no-such-asset" if case == "unknown asset" else asset
    before = _counts(service)
    response = service.client.post(
        f"/api/assets/{target}/frames", data=form, files={"image": ("f.png", data)}, headers=service.headers("operator")
    )
    assert response.status_code == status, response.text
    after = _counts(service)
    if status == 200:
        assert after["frames"] == before["frames"] + 1
        assert len(list((service.data_dir / "frames").rglob("*.png"))) == 1
    else:
        assert after == before
        assert not (service.data_dir / "frames").exists() or not list((service.data_dir / "frames").rglob("*.png"))
