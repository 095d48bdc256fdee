"""``hypertrail dashboard``: every study of a storage, live, read-only, local.

A small threaded HTTP server from the standard library serves the report's views
(:mod:`hypertrail.reporting.html`) for each study, refreshing as trials land: pages
poll the study's latest event sequence number and reload when it moves. Each study's
events are read incrementally and its page rebuilt only when that number changed.

It only reads: every method but GET and HEAD is refused, and nothing is appended to
the storage. It listens on 127.0.0.1 unless told otherwise, and answers only
requests whose ``Host`` header names an address it was told to serve (loopback
names, the address it is bound to, ``allowed_hosts``), which defeats DNS rebinding:
a foreign page cannot read it through a name that resolves to 127.0.0.1.
"""

from __future__ import annotations

import html
import ipaddress
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from hypertrail.reporting.data import analyse, build_report, study_data
from hypertrail.reporting.html import plotly_js, render
from hypertrail.storage.base import EventLog
from hypertrail.storage.events import Event

__all__ = ["Dashboard", "is_loopback", "serve"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class _Cached:
    events: list[Event] = field(default_factory=list)
    cursor: int = 0
    page_cursor: int = -1
    page: str = ""
    report_json: str = ""


class Dashboard:
    """The pages of a storage's studies, rebuilt when a study changes.

    Thread-safe: the server's threads share one storage connection behind a lock.
    """

    def __init__(self, log: EventLog, *, max_points: int = 2000, importance: str = "auto") -> None:
        self.log = log
        self.max_points = max_points
        self.importance = importance
        self._lock = threading.Lock()
        self._studies: dict[str, _Cached] = {}

    def studies(self) -> list[str]:
        with self._lock:
            return list(self.log.studies())

    def cursor(self, name: str) -> int:
        """The study's latest event sequence number (reads what is new)."""
        with self._lock:
            cached = self._studies.setdefault(name, _Cached())
            new = self.log.read(name, after=cached.cursor)
            if new:
                cached.events.extend(new)
                cached.cursor = new[-1].seq or cached.cursor
            return cached.cursor

    def _rebuild(self, name: str) -> _Cached:
        cursor = self.cursor(name)
        with self._lock:
            cached = self._studies[name]
            if cached.page_cursor == cursor:
                return cached
            events = list(cached.events)
        data = study_data(events, name)
        importance, local = (
            analyse(data, method=self.importance) if self.importance != "none" else (None, [])
        )
        report = build_report(
            data, max_points=self.max_points, importance=importance, sensitivity=local
        )
        quoted = _quote(name)
        page = render(
            report,
            plotly="/static/plotly.min.js",
            refresh=f"/api/study/{quoted}/cursor",
            version=str(cursor),
            generated=f"live from {self.log.url}, event {cursor}, built "
            + time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        page = page.replace("<nav>", '<nav><a href="/">&larr; all studies</a>', 1)
        with self._lock:
            cached.page, cached.page_cursor = page, cursor
            cached.report_json = json.dumps(report.to_json(), default=str)
        return cached

    def page(self, name: str) -> str:
        return self._rebuild(name).page

    def report_json(self, name: str) -> str:
        return self._rebuild(name).report_json

    def rows(self) -> list[dict[str, Any]]:
        """One row per study: counts and best value, for the index page."""
        out = []
        for name in self.studies():
            self.cursor(name)
            with self._lock:
                events = list(self._studies[name].events)
            try:
                data = study_data(events, name)
            except ValueError:
                continue  # a study being created: no created event yet
            counts = {"complete": 0, "failed": 0, "running": 0}
            for t in data.trials:
                counts[t.state.value] += 1
            best = data.best()
            out.append(
                {
                    "study": name,
                    "trials": len(data.trials),
                    **counts,
                    "metric": data.metric.name,
                    "best": None if best is None else (best.values or {}).get(data.metric.name),
                    "best_trial": None if best is None else best.number,
                    "optimizer": data.optimizer.get("name"),
                    "cursor": data.cursor,
                }
            )
        return out

    def index(self) -> str:
        rows = self.rows()
        body = "".join(_index_row(r) for r in rows)
        return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,"><title>hypertrail dashboard</title><style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse;font-size:14px}} td,th{{border:1px solid #e5e7eb;padding:4px 10px}}
th{{background:#f9fafb}} td.n{{text-align:right}}</style></head>
<body data-ready="1"><h1>hypertrail dashboard</h1><p>{html.escape(self.log.url)} (read-only)</p>
<table id="studies"><thead><tr><th>study</th><th>trials</th><th>complete</th><th>failed</th>
<th>running</th><th>metric</th><th>best</th><th>optimizer</th></tr></thead>
<tbody>{body}</tbody></table>
<script>let seen=null;setInterval(async()=>{{try{{
const t=await (await fetch("/api/studies")).text();
if(seen!==null&&t!==seen){{location.reload();}}seen=t;}}catch(e){{}}}},3000);</script>
</body></html>"""


def _index_row(r: dict[str, Any]) -> str:
    best = "–" if r["best"] is None else f"{r['best']:.6g} (#{r['best_trial']})"
    cells = [str(r[k]) for k in ("trials", "complete", "failed", "running")]
    return (
        f'<tr><td><a href="/study/{_quote(r["study"])}">{html.escape(r["study"])}</a></td>'
        + "".join(f'<td class="n">{c}</td>' for c in cells)
        + f'<td>{html.escape(r["metric"])}</td><td class="n">{html.escape(best)}</td>'
        + f"<td>{html.escape(str(r['optimizer']))}</td></tr>"
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "hypertrail-dashboard"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _host_ok(self) -> bool:
        host = self.headers.get("Host")
        return host is not None and host.lower() in self.server.allowed

    def do_GET(self) -> None:
        if not self._host_ok():
            self._text(HTTPStatus.FORBIDDEN, "refused: unknown Host header\n")
            return
        path = unquote(urlsplit(self.path).path)
        board = self.server.board
        try:
            if path == "/":
                self._send(200, board.index().encode(), "text/html; charset=utf-8")
            elif path == "/static/plotly.min.js":
                self._send(200, self.server.plotly, "text/javascript; charset=utf-8", cache=True)
            elif path == "/api/studies":
                body = json.dumps(board.rows(), default=str)
                self._send(200, body.encode(), "application/json")
            elif path.startswith("/study/") or path.startswith("/api/study/"):
                self._study(path)
            else:
                self._text(HTTPStatus.NOT_FOUND, "not found\n")
        except Exception as exc:  # one bad study must not stop the server
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"error: {exc}\n")

    def _study(self, path: str) -> None:
        board = self.server.board
        api = path.startswith("/api/study/")
        rest = path[len("/api/study/") if api else len("/study/") :]
        name, _, what = rest.partition("/") if api else (rest, "", "")
        if name not in board.studies():
            self._text(HTTPStatus.NOT_FOUND, f"no study named {name!r}\n")
        elif not api:
            self._send(200, board.page(name).encode(), "text/html; charset=utf-8")
        elif what == "cursor":
            self._text(200, str(board.cursor(name)))
        elif what == "report.json":
            self._send(200, board.report_json(name).encode(), "application/json")
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found\n")

    do_HEAD = do_GET

    def _refuse(self) -> None:
        self._text(HTTPStatus.METHOD_NOT_ALLOWED, "the dashboard is read-only\n")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        board: Dashboard,
        allowed_hosts: Sequence[str],
        verbose: bool,
    ) -> None:
        super().__init__(address, _Handler)
        self.board = board
        self.verbose = verbose
        self.plotly = plotly_js().encode()
        port = self.server_address[1]
        names = [*_LOOPBACK_NAMES, address[0], *allowed_hosts]
        self.allowed = {f"{n}:{port}".lower() for n in names}
        if port == 80:
            self.allowed |= {n.lower() for n in names}


def serve(
    log: EventLog,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    allowed_hosts: Sequence[str] = (),
    max_points: int = 2000,
    importance: str = "auto",
    verbose: bool = False,
) -> _Server:
    """A server for ``log``'s studies, bound but not yet serving: call
    ``serve_forever()`` (and ``shutdown()`` from another thread). ``port`` 0 picks a
    free port; ``server_address`` tells which."""
    board = Dashboard(log, max_points=max_points, importance=importance)
    return _Server((host, port), board, allowed_hosts, verbose)
