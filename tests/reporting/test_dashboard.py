"""The dashboard over HTTP: pages, live refresh, read-only, Host header checks."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hypertrail import Float, Space, Study
from hypertrail.reporting.dashboard import is_loopback, serve
from hypertrail.storage.base import open_storage


def _request(port: int, path: str, method: str = "GET", host: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[int, str, Study]]:
    """A dashboard on a free port over a SQLite file holding a small running study."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    study = Study.create("live", Space({"x": Float(0, 1), "y": Float(0, 1)}), storage=url, seed=0)
    study.optimize(lambda t: (t.config["x"] - 0.3) ** 2 + t.config["y"], n_trials=12)
    log = open_storage(url)
    server = serve(log, "127.0.0.1", 0, importance="quick")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], url, study
    finally:
        server.shutdown()
        server.server_close()
        log.close()
        study.close()


def test_index_study_page_and_api(live: tuple[int, str, Study]) -> None:
    port, _, _ = live
    status, body = _request(port, "/")
    assert status == 200 and 'href="/study/live"' in body
    status, body = _request(port, "/api/studies")
    rows = json.loads(body)
    assert rows[0]["study"] == "live" and rows[0]["complete"] == 12
    status, page = _request(port, "/study/live")
    assert status == 200
    for section in ("summary", "history", "importance", "audit"):
        assert f'id="s-{section}"' in page
    assert '<script src="/static/plotly.min.js">' in page  # served, not inlined
    status, js = _request(port, "/static/plotly.min.js")
    assert status == 200 and "plotly" in js[:2000].lower()
    status, report = _request(port, "/api/study/live/report.json")
    assert json.loads(report)["sections"][0]["data"]["counts"]["complete"] == 12
    assert _request(port, "/study/nope")[0] == 404
    assert _request(port, "/elsewhere")[0] == 404


def test_pages_follow_new_trials(live: tuple[int, str, Study]) -> None:
    port, _, study = live
    before = int(_request(port, "/api/study/live/cursor")[1])
    _, page = _request(port, "/study/live")
    assert "12 complete" in page
    study.optimize(lambda t: t.config["x"], n_trials=3)  # another process would do the same
    after = int(_request(port, "/api/study/live/cursor")[1])
    assert after > before
    _, page = _request(port, "/study/live")
    assert "15 complete" in page


def test_read_only_and_foreign_hosts_refused(live: tuple[int, str, Study]) -> None:
    port, url, _ = live
    log = open_storage(url)
    try:
        events = len(log.read("live"))
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert _request(port, "/study/live", method)[0] == 405
        _request(port, "/study/live")
        _request(port, "/api/studies")
        assert len(log.read("live")) == events  # serving pages appended nothing
    finally:
        log.close()
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own name.
    status, body = _request(port, "/api/studies", host=f"evil.example:{port}")
    assert status == 403 and "Host" in body
    assert _request(port, "/", host=f"localhost:{port}")[0] == 200
    assert _request(port, "/", host=f"127.0.0.1:{port + 1}")[0] == 403


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert not is_loopback("example.org")
