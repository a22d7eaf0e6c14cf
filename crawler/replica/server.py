"""The replica HTTP server: every replicated portal on one loopback port.

``GET http://127.0.0.1:N/<host>/<path>`` answers what ``http(s)://<host>/<path>``
answers in the replica (the download handler ``crawler.replica.handler`` maps
real URLs to these).  Pages are prebuilt bytes held in memory (and their
gzip form, sent when the client accepts gzip), served over HTTP/1.1
keep-alive with a Content-Length.  A portal's root redirects to its list
column, a directory path without its slash redirects to the slash form;
redirects always name real-world URLs (``http://<host>/...``), never the
loopback address.  Unknown paths get the portal's own 404 page; unknown hosts
get a plain 404 with ``X-Replica: unknown-host``.

Fault endpoints live under the pseudo-host ``faults.test``: see
``crawler.replica.faults``.

Control endpoints (JSON), for tests of incremental crawls:

- ``GET /_replica/manifest``: the current manifest (``crawler.replica.sites``).
- ``POST /_replica/add`` with ``{"site": "cri"}``: publish the next reserve
  article on top of the portal's first list page (older ones move down, a new
  list page appears when the last one overflows).
  ``{"site": "cri", "article": {"title": ..., "body": ..., ...}}``: publish that
  article (fields as in ``sites/<name>/articles/*.toml``; ``path`` and
  ``published_at`` default to a new URL and now).
  ``{"site": "dali", "reprint_of": "<article URL or site/key>",
  "drop_paragraphs": [3], "first_paragraph": "...", "source": "..."}``:
  publish a reprint of an existing article on another portal.
  Answers 201 with ``{"url", "site", "list_url", "article"}`` (``article`` is
  the new manifest entry).
- ``POST /_replica/remove`` with ``{"url": "<article URL or site/key>", "how": "404"}``:
  take the article down (``how``: ``404``, ``410``, ``soft404`` (the 404 page
  with status 200), ``emptied`` (its page with no text), ``notice`` (its page
  saying 该信息已删除), ``redirect_home``); it leaves the list pages.
- ``POST /_replica/edit`` with ``{"url": ..., "paragraph": 2, "text": "..."}``
  (0-based), ``"title"``, or only the page furniture: ``{"url": ..., "ad": "..."}``
  (the advert box), ``"views": 123`` (the view counter).
- ``POST /_replica/outage`` with ``{"url": ..., "kind": "503"}`` or ``"challenge"``
  (a JavaScript challenge page with status 200): until ``restore``.
- ``POST /_replica/restore`` with ``{"url": ...}``: served and listed again.
  These four answer 200 with ``{"url", "site"}``.
- ``POST /_replica/reset``: back to the portals as shipped.

Article pages carry ``ETag`` and ``Last-Modified``; a request whose
``If-None-Match`` (or, without it, ``If-Modified-Since``) matches gets 304.

In-process use (tests)::

    with serve_replica() as (server, base_url):
        ...  # base_url == "http://127.0.0.1:<port>"
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from crawler.replica import faults
from crawler.replica.sites import Replica, ReplicaError, Resource

CONTROL = "_replica"


class ReplicaServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server over a ``Replica``."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], replica: Replica | None = None, verbose: bool = False
    ) -> None:
        self.replica = replica if replica is not None else Replica()
        self.verbose = verbose
        self.stopping = threading.Event()
        self.faults = faults.FaultState()
        self._thread: threading.Thread | None = None
        super().__init__(address, ReplicaRequestHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve from a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts in fault tests, aborted crawls) are normal here.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def close(self) -> None:
        """Stop serving, end hanging fault requests, release the port."""
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


class ReplicaRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    server: ReplicaServer

    def setup(self) -> None:
        super().setup()
        # One write per response, no Nagle: keep-alive requests do not stall.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"replica: {self.address_string()} {format % args}\n")

    # -- low-level writers (also used by crawler.replica.faults) ---------------
    def write_raw(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def send_bytes(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    ) -> None:
        """One complete response with a Content-Length, in a single write."""
        self.log_request(status, len(body))
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", f"Date: {self.date_time_string()}"]
        lines.append(f"Server: {self.server_version}")
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.write_raw(head if self.command == "HEAD" else head + body)

    def not_modified(self, resource: Resource) -> bool:
        """The request's validators match ``resource`` (a 304 answers it)."""
        given = dict(resource.headers)
        match = self.headers.get("If-None-Match")
        if match is not None:
            return "ETag" in given and given["ETag"] in [m.strip() for m in match.split(",")]
        since = self.headers.get("If-Modified-Since")
        if since and "Last-Modified" in given:
            try:
                return parsedate_to_datetime(given["Last-Modified"]) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def send_resource(self, resource: Resource) -> None:
        if resource.status == 200 and self.not_modified(resource):
            kept = [(k, v) for k, v in resource.headers if k in ("ETag", "Last-Modified")]
            self.log_request(304, 0)
            lines = ["HTTP/1.1 304 Not Modified", f"Date: {self.date_time_string()}"]
            lines += [f"Server: {self.server_version}"] + [f"{k}: {v}" for k, v in kept]
            self.write_raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            return
        headers = list(resource.headers)
        body = resource.body
        accepts = self.headers.get("Accept-Encoding", "")
        if resource.gzipped is not None:
            headers.append(("Vary", "Accept-Encoding"))
            if "gzip" in accepts:
                body = resource.gzipped
                headers.append(("Content-Encoding", "gzip"))
        self.send_bytes(resource.status, body, headers)

    def redirect(self, status: int, location: str) -> None:
        body = f'<html><body><a href="{location}">moved</a></body></html>'.encode()
        headers = [("Location", location), ("Content-Type", "text/html")]
        self.send_bytes(status, body, headers)

    def send_json(self, status: int, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_bytes(status, body, [("Content-Type", "application/json; charset=utf-8")])

    def close_now(self) -> None:
        """End the connection after what was written (a clean FIN)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)

    def reset_connection(self) -> None:
        """Abort the connection with a TCP reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            faults.linger_reset(self.connection)
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        # The request loop still flushes and closes these: give it harmless ones.
        self.rfile = io.BytesIO()
        self.wfile = io.BytesIO()

    def hang(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (or until the server stops), then close."""
        self.server.stopping.wait(seconds)
        self.close_now()

    # -- dispatch ---------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        host, path, query = self._split()
        if host == CONTROL:
            self._control_get(path)
        elif host == faults.FAULTS_HOST or host.endswith("." + faults.FAULTS_HOST):
            faults.handle(self, host, path, query)
        else:
            self._portal(host, path)

    def do_POST(self) -> None:
        host, path, _ = self._split()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if host != CONTROL:
            self.send_bytes(405, b"method not allowed", [("Allow", "GET, HEAD")])
            return
        try:
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise ReplicaError("the request body must be a JSON object")
            self._control_post(path, data)
        except (ReplicaError, ValueError, TypeError) as exc:
            self.send_json(400, {"error": str(exc)})

    def _split(self) -> tuple[str, str, str]:
        target, _, query = self.path.partition("?")
        parts = target.split("/", 2)
        host = parts[1].lower() if len(parts) > 1 else ""
        path = "/" + parts[2] if len(parts) > 2 else "/"
        return host, path, query

    def _portal(self, host: str, path: str) -> None:
        replica = self.server.replica
        site = replica.hosts.get(host)
        if site is None:
            body = f"replica: unknown host {host!r}".encode()
            self.send_bytes(
                404, body, [("Content-Type", "text/plain"), ("X-Replica", "unknown-host")]
            )
            return
        if path == "/":
            self.redirect(302, site.list_urls()[0])
            return
        resource = replica.lookup(host, path)
        if resource is not None:
            self.send_resource(resource)
        elif replica.is_directory(host, path):
            self.redirect(301, site.url(path + "/"))
        else:
            not_found = replica.not_found(host)
            assert not_found is not None
            self.send_resource(not_found)

    def _control_get(self, path: str) -> None:
        if path == "/manifest":
            self.send_json(200, self.server.replica.manifest())
        elif path == "/health":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": f"no control endpoint {path!r}"})

    def _control_post(self, path: str, data: dict[str, Any]) -> None:
        replica = self.server.replica
        if path == "/reset":
            replica.reset()
            self.send_json(200, {"ok": True})
            return
        if path in ("/remove", "/edit", "/outage", "/restore"):
            self._change(path[1:], data)
            return
        if path != "/add":
            self.send_json(404, {"error": f"no control endpoint {path!r}"})
            return
        site_name = data.get("site")
        if not isinstance(site_name, str):
            raise ReplicaError("'site' is required")
        if data.get("reprint_of"):
            article = replica.add_reprint(
                site_name,
                str(data["reprint_of"]),
                drop_paragraphs=data.get("drop_paragraphs"),
                first_paragraph=data.get("first_paragraph"),
                source=data.get("source"),
            )
        else:
            article = replica.add_article(site_name, data.get("article"))
        site = replica.sites[site_name]
        url = site.url(article.path)
        entry = next(
            e for e in replica.manifest()["portals"][site_name]["articles"] if e["url"] == url
        )
        self.send_json(
            201, {"url": url, "site": site_name, "list_url": site.list_urls()[0], "article": entry}
        )

    def _change(self, action: str, data: dict[str, Any]) -> None:
        replica = self.server.replica
        url = data.get("url")
        if not isinstance(url, str):
            raise ReplicaError("'url' is required")
        if action == "remove":
            article = replica.remove(url, str(data.get("how", "404")))
        elif action == "outage":
            article = replica.outage(url, str(data.get("kind", "")))
        elif action == "restore":
            article = replica.restore(url)
        else:
            paragraph = data.get("paragraph")
            views = data.get("views")
            article = replica.edit(
                url,
                paragraph=int(paragraph) if paragraph is not None else None,
                text=data.get("text"),
                title=data.get("title"),
                ad=data.get("ad"),
                views=int(views) if views is not None else None,
            )
        site = replica.sites[article.site]
        self.send_json(200, {"url": site.url(article.path), "site": article.site})


def start_replica(
    port: int = 0, host: str = "127.0.0.1", replica: Replica | None = None, verbose: bool = False
) -> tuple[ReplicaServer, str]:
    """Start a replica server in a background thread; returns it and its base URL.

    Stop it with ``server.close()``.  ``port=0`` picks a free port.
    """
    server = ReplicaServer((host, port), replica=replica, verbose=verbose)
    server.start()
    return server, server.base_url


@contextlib.contextmanager
def serve_replica(
    port: int = 0, host: str = "127.0.0.1", replica: Replica | None = None, verbose: bool = False
) -> Iterator[tuple[ReplicaServer, str]]:
    """Context manager: ``with serve_replica() as (server, base_url): ...``."""
    server, base_url = start_replica(port, host, replica, verbose)
    try:
        yield server, base_url
    finally:
        server.close()
