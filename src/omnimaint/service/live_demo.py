"""The end of ``omnimaint demo``: the service on localhost with the demo bundle, the simulated plant replayed
into it, alarms printed as they are raised (Ctrl-C stops)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from omnimaint.data.dataset import Dataset
from omnimaint.inference.bundle import Bundle
from omnimaint.service.auth import Role, create_key
from omnimaint.service.clock import iso_us
from omnimaint.service.db import open_store
from omnimaint.service.rules import alarm_rules
from omnimaint.service.settings import ServiceSettings


def serve_demo(
    bundle: Path,
    plant: Path,
    data_dir: Path,
    *,
    port: int = 8000,
    speed: float = 3600.0,
    say: Callable[[str], None] = print,
) -> None:
    """Serve ``bundle`` on 127.0.0.1:``port`` (store in ``data_dir``), replay ``plant`` into it at ``speed``, print
    each new alarm; runs until interrupted.

    Raises:
        KeyboardInterrupt: on Ctrl-C, after stopping the service.
    """
    import httpx
    import uvicorn

    from omnimaint.service.app import create_app
    from omnimaint.service.replay import RestSink, replay

    settings = ServiceSettings(bundle=bundle, data_dir=data_dir, port=port)
    alarm_rules(Bundle.load(bundle), None)  # refuse what would stop the service's start, in one line, first
    engine = open_store(settings.db_url)
    key = create_key(engine, "demo", Role("admin"))
    engine.dispose()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="omnimaint-demo-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            if not thread.is_alive():
                raise OSError(f"the service did not start on port {port} (the reason is logged above)")
            time.sleep(0.1)
        say(f"service: {url} (API docs {url}/docs); API key (admin, shown once): {key}")
        say(f"dashboard: {url}/ui/ (sign in with that key)")
        say(f"replaying {plant} at {speed:g}× (an hour of data per {3600 / speed:g} s); Ctrl-C stops")
        replayer = threading.Thread(
            target=replay,
            args=(Dataset(plant), RestSink(url, key)),
            kwargs={"speed": speed, "progress": False, "slice_": timedelta(hours=1)},
            name="omnimaint-demo-replay",
            daemon=True,
        )
        replayer.start()
        seen: set[int] = set()
        with httpx.Client(base_url=url, headers={"X-API-Key": key}) as client:
            while True:
                for alarm in reversed(client.get("/api/alarms", params={"limit": 50}).json()):
                    if alarm["id"] not in seen:
                        seen.add(alarm["id"])
                        say(
                            f"ALARM {alarm['priority']:>6}  {alarm['asset_id']}  {alarm['component']}: "
                            f"{alarm['fault']} (P = {alarm['peak']:.3g}, at {iso_us(alarm['opened_at_us'])[:16]})"
                        )
                if not replayer.is_alive():
                    say(f"replay finished: {len(seen)} alarms; the service keeps running at {url} (Ctrl-C stops)")
                    replayer = threading.Thread(target=lambda: None)
                time.sleep(2.0)
    finally:
        server.should_exit = True
        thread.join(30)
