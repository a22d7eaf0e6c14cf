"""Fault endpoints of the replica, under the pseudo-host ``faults.test``.

Every path below is served at ``http://127.0.0.1:N/faults.test<path>`` and so
reached by the crawl as ``http://faults.test<path>`` through the replica
download handler.  Each one misbehaves in exactly one documented way:

=====================================  ====================================================
``/article.html``                      a well-formed UTF-8 article page (the control case)
``/index.html``                        a list page linking ``/article.html`` and the faults
``/robots.txt``                        allows everything
``/status/<code>``                     that status with a small HTML body; 429 and 503
                                       carry ``Retry-After`` (``?retry_after=``, default 1)
``/flaky/<key>?fail=N&code=C``         the first N requests for ``key`` get status C
                                       (default 2 and 503), later ones the article page
``/delay?seconds=S``                   the article page after S seconds (at most 60)
``/hang?seconds=S``                    reads the request, sends nothing for S seconds
                                       (default 120, at most 600), then closes
``/hang-body?seconds=S``               headers and part of the body, then nothing for S
                                       seconds, then closes
``/drop``                              headers (Content-Length N), half the body, then a
                                       connection reset (RST)
``/short-length``                      Content-Length larger than the body sent; the
                                       connection is then closed cleanly
``/broken-chunked``                    chunked encoding whose chunk is shorter than its
                                       size line and has no last chunk, then close;
                                       ``?mode=badsize``: a chunk-size line that is not hex
``/charset/gbk-as-utf8``               GBK bytes, header and ``<meta>`` say utf-8
``/charset/utf8-as-gb2312``            UTF-8 bytes, header and ``<meta>`` say gb2312
``/redirect-loop`` (``/redirect-loop/<n>``)  302 to ``http://faults.test/redirect-loop/<n+1>``
                                       modulo 2: an endless loop between two URLs
``/redirect/file``                     302 to ``file:///etc/passwd``
``/redirect/ftp``                      302 to ``ftp://faults.test/pub/article.html``
``/redirect/data``                     302 to a ``data:text/html,...`` URL
``/redirect/article``                  301 to ``http://faults.test/article.html`` (valid)
``/gzip-bomb?mib=M``                   ``Content-Encoding: gzip``, about M KiB on the wire,
                                       M MiB (default 64, at most 1024) when inflated
``/gzip-no-encoding``                  a gzip-compressed HTML page sent as text/html with
                                       no ``Content-Encoding``
``/br-bomb?mib=M``                     the same bomb with ``Content-Encoding: br`` (brotli)
``/deflate-bomb?mib=M``                the same with ``Content-Encoding: deflate`` (zlib
                                       stream; ``&raw=1``: a raw deflate stream)
``/redirect/offsite``                  302 to ``http://www.offsite-portal.cn/article.html``,
                                       a host outside the portal
``/pages/garbage``                     ``<html><body>`` and 4 KiB of random bytes (seeded)
``/pages/utf16le``                     the article page in UTF-16LE without a BOM,
                                       ``Content-Type: text/html`` with no charset
``/pages/links?n=N``                   N links run together (default 20000), no text
``/pages/huge?mib=M``                  the article page padded to M MiB (default 9, at
                                       most 64) with a comment
``/more.html``                         a list page linking the faults above from
                                       ``/hang-body`` down (and the control article)
``/relative/index.html``               a list page whose links are relative
                                       (``article.html``): usable through the replica's
                                       own address, ``http://127.0.0.1:N/faults.test/…``
``/polite/index.html?n=N&ms=T``        a list page of N articles ``/polite/<i>.html?ms=T``,
                                       each answered after T milliseconds (at most 10000)
``/calendar/<n>.html``                 an endless calendar: list page n links article
                                       ``/calendar/article/<n>.html`` and, as its next page
                                       (``a.next``, 下一页), list page n+1
``/_log``                              JSON: every request this host answered, in order:
                                       ``path``, ``start`` and ``end`` (server monotonic
                                       seconds), ``user_agent`` (politeness is measured
                                       from it)
``/robots/<variant>.txt``              the robots.txt variants below, fetched directly
``/challenge/…``                       bot walls' challenge pages: ``crawler.replica.challenges``
=====================================  ====================================================

robots.txt variants live on their own hosts (robots.txt is per host); each
also serves ``/index.html`` and ``/article.html`` as above:

- ``robots-garbage.faults.test``: binary garbage and broken lines
- ``robots-empty.faults.test``: an empty 200 response
- ``robots-500.faults.test``: robots.txt answers 500
- ``robots-disallow.faults.test``: ``Disallow: /`` for every agent
- ``robots-hang.faults.test``: robots.txt hangs like ``/hang``
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
import threading
import time
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from crawler.replica import challenges

if TYPE_CHECKING:
    from crawler.replica.server import ReplicaRequestHandler

FAULTS_HOST = "faults.test"

_ARTICLE_TEXT = (
    "7月20日，某县召开平安建设工作推进会，总结上半年平安建设工作，部署下一阶段重点任务。",
    "会议指出，今年以来，全县各级各部门坚持以人民为中心的发展思想，扎实推进矛盾纠纷排查化解、"
    "社会治安防控体系建设和基层社会治理，全县社会大局保持和谐稳定，群众安全感持续提升。",
    "会议要求，要坚持和发展新时代“枫桥经验”，健全县、乡、村三级矛盾纠纷调处体系，"
    "深化网格化服务管理，推动资源、服务、管理向基层下沉，不断提升基层社会治理能力和水平。",
    "县委政法委、县法院、县检察院、县公安局、县司法局负责同志参加会议。",
)

ROBOTS_VARIANTS: dict[str, tuple[int, bytes]] = {
    "garbage": (
        200,
        b"\x89PNG\r\n\x1a\n\x00\x00garbage<html><body>User-agent *\nDisallow /faults\n"
        b"\xff\xfe\x00Allow: :::\nSitemap\n",
    ),
    "empty": (200, b""),
    "500": (500, b"<html><body><h1>500 Internal Server Error</h1></body></html>"),
    "disallow": (200, b"User-agent: *\nDisallow: /\n"),
    "allow": (200, b"User-agent: *\nDisallow:\n"),
}


def article_html(charset: str = "utf-8", title: str = "某县召开平安建设工作推进会") -> str:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in _ARTICLE_TEXT)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="{charset}"><title>{title}</title></head>\n'
        f'<body><div class="nav"><a href="/index.html">首页</a></div>\n'
        f"<h1>{title}</h1>\n"
        '<div class="info">发布时间：2024-07-20 10:00:00 来源：县委政法委</div>\n'
        f'<div class="content">\n{paragraphs}\n</div></body></html>\n'
    )


# The fault endpoints /index.html lists.
_INDEX = [
    "/article.html",
    "/status/500",
    "/status/503",
    "/status/429",
    "/delay?seconds=1",
    "/drop",
    "/short-length",
    "/broken-chunked",
    "/charset/gbk-as-utf8",
    "/charset/utf8-as-gb2312",
    "/redirect-loop",
    "/redirect/file",
    "/redirect/ftp",
    "/gzip-bomb",
    "/gzip-no-encoding",
]


def _bomb_chunks(mib: int) -> list[bytes]:
    filler = b" " * (1024 * 1024)
    return [b"<html><body>" + filler[12:]] + [filler] * (mib - 1)


@lru_cache(maxsize=4)
def gzip_bomb(mib: int, wbits: int = 31) -> bytes:
    """Gzip of ``mib`` MiB of HTML filler (about 1 KiB compressed per MiB).

    ``wbits`` 15 gives a zlib stream, -15 a raw deflate stream (``Content-Encoding: deflate``
    is either, in practice).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [compressor.compress(chunk) for chunk in _bomb_chunks(mib)]
    parts.append(compressor.flush())
    return b"".join(parts)


@lru_cache(maxsize=4)
def brotli_bomb(mib: int) -> bytes:
    """Brotli of ``mib`` MiB of HTML filler (a few hundred bytes per MiB)."""
    import brotli  # a Scrapy dependency (it decodes ``br`` with it)

    compressor = brotli.Compressor(quality=1)
    parts = [compressor.process(chunk) for chunk in _bomb_chunks(mib)]
    parts.append(compressor.finish())
    return b"".join(parts)


def _list_page(title: str, links: list[str], next_url: str | None = None) -> bytes:
    items = "\n".join(f'<li><a href="{u}">{u}</a></li>' for u in links)
    pager = ""
    if next_url:
        pager = f'<div class="pager"><a class="next" href="{next_url}">下一页</a></div>'
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><ul>\n{items}\n</ul>{pager}</body></html>\n"
    ).encode()


# Fault endpoints listed by /more.html (the ones /index.html predates).
_MORE = [
    "/article.html",
    "/hang-body?seconds=20",
    "/br-bomb",
    "/deflate-bomb",
    "/deflate-bomb?raw=1",
    "/redirect/offsite",
    "/pages/garbage",
    "/pages/utf16le",
    "/pages/links",
    "/pages/huge",
]
OFFSITE_URL = "http://www.offsite-portal.cn/article.html"


def _int(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(float(query.get(name, [str(default)])[0]))
    except ValueError:
        value = default
    return max(low, min(high, value))


# Requests kept in the access log of /_log (the oldest are dropped past it).
_LOG_MAX = 10_000


class FaultState:
    """Per-server state: counters of ``/flaky/<key>`` and the access log of ``/_log``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.log: list[dict[str, object]] = []

    def hit(self, key: str) -> int:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

    def record(self, entry: dict[str, object]) -> None:
        with self.lock:
            self.log.append(entry)
            del self.log[:-_LOG_MAX]

    def entries(self) -> list[dict[str, object]]:
        with self.lock:
            return list(self.log)


def handle(handler: ReplicaRequestHandler, host: str, path: str, query_string: str) -> None:
    """Answer one request for ``faults.test`` or one of its robots sub-hosts (logged)."""
    state = handler.server.faults
    if host == FAULTS_HOST and path == "/_log":
        body = json.dumps(state.entries()).encode("utf-8")
        handler.send_bytes(200, body, [("Content-Type", "application/json")])
        return
    start = time.monotonic()
    try:
        _answer(handler, host, path, query_string)
    finally:
        state.record(
            {
                "path": path + (f"?{query_string}" if query_string else ""),
                "host": host,
                "start": start,
                "end": time.monotonic(),
                "user_agent": handler.headers.get("User-Agent", ""),
            }
        )


def _answer(handler: ReplicaRequestHandler, host: str, path: str, query_string: str) -> None:
    query = parse_qs(query_string)
    html_type = "text/html; charset=utf-8"
    article = article_html().encode("utf-8")

    if host != FAULTS_HOST:  # robots variant hosts
        variant = host.split(".", 1)[0].removeprefix("robots-")
        if path == "/robots.txt":
            if variant == "hang":
                handler.hang(_int(query, "seconds", 120, 0, 600))
                return
            status, body = ROBOTS_VARIANTS.get(variant, ROBOTS_VARIANTS["allow"])
            handler.send_bytes(status, body, [("Content-Type", "text/plain")])
            return
        if path in ("/article.html", "/index.html", "/"):
            page = article if path == "/article.html" else _list_page("故障测试", _INDEX)
            handler.send_bytes(200, page, [("Content-Type", html_type)])
            return
        handler.send_bytes(404, b"not found", [("Content-Type", "text/plain")])
        return

    if path in ("/", "/index.html"):
        handler.send_bytes(200, _list_page("故障测试", _INDEX), [("Content-Type", html_type)])
    elif path == "/article.html":
        handler.send_bytes(200, article, [("Content-Type", html_type)])
    elif path == "/robots.txt":
        handler.send_bytes(200, ROBOTS_VARIANTS["allow"][1], [("Content-Type", "text/plain")])
    elif path.startswith("/robots/") and path.endswith(".txt"):
        variant = path[len("/robots/") : -len(".txt")]
        if variant not in ROBOTS_VARIANTS:
            handler.send_bytes(404, b"no such variant", [("Content-Type", "text/plain")])
            return
        status, body = ROBOTS_VARIANTS[variant]
        handler.send_bytes(status, body, [("Content-Type", "text/plain")])
    elif path.startswith("/challenge/"):
        index = _list_page("反爬虫页面测试", challenges.INDEX_LINKS)
        challenges.answer(handler, path, query, article, index)
    elif path.startswith("/status/"):
        code = _int({"c": [path.rsplit("/", 1)[1]]}, "c", 500, 100, 599)
        headers = [("Content-Type", html_type)]
        if code in (429, 503):
            headers.append(("Retry-After", str(_int(query, "retry_after", 1, 0, 3600))))
        status_page = f"<html><body><h1>{code}</h1><p>服务器繁忙，请稍后再试。</p></body></html>"
        handler.send_bytes(code, status_page.encode("utf-8"), headers)
    elif path.startswith("/flaky/"):
        key = path[len("/flaky/") :]
        fail = _int(query, "fail", 2, 0, 1000)
        code = _int(query, "code", 503, 400, 599)
        if handler.server.faults.hit(key) <= fail:
            headers = [("Content-Type", html_type), ("Retry-After", "0")]
            handler.send_bytes(code, b"<html><body>busy</body></html>", headers)
        else:
            handler.send_bytes(200, article, [("Content-Type", html_type)])
    elif path == "/delay":
        seconds = _int(query, "seconds", 1, 0, 60)
        if handler.server.stopping.wait(seconds):
            handler.close_now()
            return
        handler.send_bytes(200, article, [("Content-Type", html_type)])
    elif path == "/hang":
        handler.hang(_int(query, "seconds", 120, 0, 600))
    elif path == "/hang-body":
        head = _head(200, [("Content-Type", html_type), ("Content-Length", str(len(article)))])
        handler.write_raw(head + article[: len(article) // 2])
        handler.hang(_int(query, "seconds", 120, 0, 600))
    elif path == "/drop":
        head = _head(200, [("Content-Type", html_type), ("Content-Length", str(len(article)))])
        handler.write_raw(head + article[: len(article) // 2])
        handler.reset_connection()
    elif path == "/short-length":
        head = _head(200, [("Content-Type", html_type), ("Content-Length", str(len(article) * 2))])
        handler.write_raw(head + article)
        handler.close_now()
    elif path == "/broken-chunked":
        head = _head(200, [("Content-Type", html_type), ("Transfer-Encoding", "chunked")])
        if query.get("mode", [""])[0] == "badsize":
            body = b"zz\r\n" + article[:64] + b"\r\n0\r\n\r\n"
        else:
            body = b"%x\r\n" % (len(article) + 4096) + article
        handler.write_raw(head + body)
        handler.close_now()
    elif path == "/charset/gbk-as-utf8":
        body = article_html("utf-8").encode("gbk")
        handler.send_bytes(200, body, [("Content-Type", html_type)])
    elif path == "/charset/utf8-as-gb2312":
        body = article_html("gb2312").encode("utf-8")
        handler.send_bytes(200, body, [("Content-Type", "text/html; charset=gb2312")])
    elif path.startswith("/redirect-loop"):
        step = path[len("/redirect-loop") :].strip("/")
        nxt = (int(step) + 1) % 2 if step.isdigit() else 1
        handler.redirect(302, f"http://{FAULTS_HOST}/redirect-loop/{nxt}")
    elif path == "/redirect/file":
        handler.redirect(302, "file:///etc/passwd")
    elif path == "/redirect/ftp":
        handler.redirect(302, f"ftp://{FAULTS_HOST}/pub/article.html")
    elif path == "/redirect/data":
        handler.redirect(302, "data:text/html,<h1>data</h1>")
    elif path == "/redirect/article":
        handler.redirect(301, f"http://{FAULTS_HOST}/article.html")
    elif path == "/gzip-bomb":
        body = gzip_bomb(_int(query, "mib", 64, 1, 1024))
        headers = [("Content-Type", html_type), ("Content-Encoding", "gzip")]
        handler.send_bytes(200, body, headers)
    elif path == "/gzip-no-encoding":
        body = gzip.compress(article, mtime=0)
        handler.send_bytes(200, body, [("Content-Type", html_type)])
    elif path == "/br-bomb":
        body = brotli_bomb(_int(query, "mib", 64, 1, 1024))
        handler.send_bytes(200, body, [("Content-Type", html_type), ("Content-Encoding", "br")])
    elif path == "/deflate-bomb":
        wbits = -15 if query.get("raw", [""])[0] == "1" else 15
        body = gzip_bomb(_int(query, "mib", 64, 1, 1024), wbits)
        headers = [("Content-Type", html_type), ("Content-Encoding", "deflate")]
        handler.send_bytes(200, body, headers)
    elif path.startswith("/pages/"):
        _hostile_page(handler, path[len("/pages/") :], query)
    elif path == "/redirect/offsite":
        handler.redirect(302, OFFSITE_URL)
    elif path == "/more.html":
        handler.send_bytes(200, _list_page("更多故障", _MORE), [("Content-Type", html_type)])
    elif path == "/relative/index.html":
        page = _list_page("相对链接", ["article.html", "other.html"])
        handler.send_bytes(200, page, [("Content-Type", html_type)])
    elif path in ("/relative/article.html", "/relative/other.html"):
        title = "相对链接文章" if path.endswith("article.html") else "相对链接另一篇文章"
        body = article_html(title=title).encode("utf-8")
        handler.send_bytes(200, body, [("Content-Type", html_type)])
    elif path == "/polite/index.html":
        n, ms = _int(query, "n", 8, 0, 1000), _int(query, "ms", 0, 0, 10_000)
        links = [f"/polite/{i}.html?ms={ms}" for i in range(n)]
        page = _list_page("礼貌抓取", links)
        handler.send_bytes(200, page, [("Content-Type", html_type)])
    elif path.startswith("/polite/") and path.endswith(".html"):
        if handler.server.stopping.wait(_int(query, "ms", 0, 0, 10_000) / 1000):
            handler.close_now()
            return
        key = path[len("/polite/") : -len(".html")]
        body = article_html(title=f"某县召开平安建设工作推进会（{key}）").encode("utf-8")
        handler.send_bytes(200, body, [("Content-Type", html_type)])
    elif path.startswith("/calendar/article/") and path.endswith(".html"):
        issue = _int({"n": [path.rsplit("/", 1)[1][: -len(".html")]]}, "n", 0, 0, 10**6)
        body = article_html(title=f"某县召开平安建设工作推进会（第{issue}期）").encode("utf-8")
        handler.send_bytes(200, body, [("Content-Type", html_type)])
    elif path.startswith("/calendar/") and path.endswith(".html"):
        issue = _int({"n": [path.rsplit("/", 1)[1][: -len(".html")]]}, "n", 0, 0, 10**6)
        page = _list_page(
            f"工作动态 第{issue}页",
            [f"/calendar/article/{issue}.html"],
            next_url=f"/calendar/{issue + 1}.html",
        )
        handler.send_bytes(200, page, [("Content-Type", html_type)])
    else:
        handler.send_bytes(404, b"no such fault", [("Content-Type", "text/plain")])


def _hostile_page(handler: ReplicaRequestHandler, kind: str, query: dict[str, list[str]]) -> None:
    """Pages that download fine and must not become records (or, UTF-16, must)."""
    html_type = "text/html; charset=utf-8"
    if kind == "garbage":
        body = b"<html><body>" + random.Random(14).randbytes(4096)  # noqa: S311 - test bytes
        handler.send_bytes(200, body, [("Content-Type", "text/html")])
    elif kind == "utf16le":
        body = article_html("utf-16").encode("utf-16-le")
        handler.send_bytes(200, body, [("Content-Type", "text/html")])
    elif kind == "links":
        count = _int(query, "n", 20_000, 1, 500_000)
        links = "".join(f'<a href="/a/{i}.html">关于第{i}批示范点的通知</a>' for i in range(count))
        handler.send_bytes(
            200, f"<html><body>{links}</body></html>".encode(), [("Content-Type", html_type)]
        )
    elif kind == "huge":
        size = _int(query, "mib", 9, 1, 64) * 1024 * 1024
        page = article_html().encode("utf-8")
        padding = b"<!-- " + b"x" * max(0, size - len(page)) + b" -->"
        body = page.replace(b"<body>", b"<body>" + padding, 1)
        handler.send_bytes(200, body, [("Content-Type", html_type)])
    else:
        handler.send_bytes(404, b"no such page", [("Content-Type", "text/plain")])


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} OK"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def linger_reset(sock: socket.socket) -> None:
    """Make ``close()`` send a TCP reset instead of a clean FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
