"""Challenge-page endpoints of the fault host: bot walls as portals put them up.

Served under ``http://faults.test/challenge/`` (see ``crawler.replica.faults``):

=====================================  ====================================================
``/challenge/index.html``              a list page linking the control article, each wall
                                       below and ``/challenge/pass/…`` articles
``/challenge/ruishu.html``             瑞数: HTTP 412, an inline ``$_ts`` script and an
                                       ``r='m'`` loader script, every time
``/challenge/jiasule.html``            加速乐: HTTP 521, ``Set-Cookie: __jsluid_s``, a script
                                       spelling out ``__jsl_clearance_s``, every time
``/challenge/interstitial.html``       HTTP 200 "请稍候,正在进行安全验证" page, every time
``/challenge/waf.html``                HTTP 403 网站防火墙 block page, every time
``/challenge/pass/<key>.html?kind=K&n=N``  the wall K (default ruishu) to the first N requests
                                       for ``key`` (default 1), then an article page
``/challenge/blocked-list.html``       a list page that is always an interstitial
``/challenge/paged/t20240301_100.html``  page 1 of a two-page article whose page 2
                                       (``…_100_1.html``) is always the 瑞数 page
=====================================  ====================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.replica.server import ReplicaRequestHandler

RUISHU = """<!DOCTYPE html><html><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta id="Gk2uVq8Rb1Ns" content="Yp3xK0.wN2dGq7mZbTfR9sLhEo4cUaVj1iKrXy5PzMnQ6tB8" r='m'>
<script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=40512;
$_ts.cd="rSxqrrAlDqWmcGqtqGA3qDqlcs9lHaqqGqAGrOqqq";if($_ts.lcd)$_ts.lcd();</script>
<script type="text/javascript" charset="utf-8" src="/Ps7LqN2vB4cX/Rk1wT8mYe3Lq.3a9c21f.js" r='m'>
</script></head><body></body></html>"""

JIASULE = (
    "<html><body><script>document.cookie=('_')+('_')+('j')+('s')+('l')+('_')+('c')+('l')"
    "+('e')+('a')+('r')+('a')+('n')+('c')+('e')+('_')+('s')+('=')+(+new Date()/1000|0)"
    "+'.517|0|'+'Fq%2Bz8Jx1kD0'+';max-age=3600;path=/';location.href=location.pathname"
    "+location.search</script></body></html>"
)

INTERSTITIAL = """<!doctype html><html><head><meta charset="utf-8"><title>安全验证</title>
<style>.v{margin:120px auto;text-align:center;color:#666}</style></head><body>
<div class="v"><p>请稍候,正在进行安全验证……</p><p>验证通过后将自动跳转</p></div>
<script>setTimeout(function(){document.cookie="wzws_cid=6a1f;path=/";location.reload()},1500)
</script></body></html>"""

WAF = """<html><head><meta charset="utf-8"><title>网站防火墙</title></head><body>
<div class="main"><h2>您的请求带有不合法参数,已被网站管理员设置拦截!</h2>
<p>可能原因:您提交的内容包含危险的攻击请求</p><p>如何解决:检查提交内容</p></div></body></html>"""

WALLS: dict[str, tuple[int, str, list[tuple[str, str]]]] = {
    "ruishu": (412, RUISHU, []),
    "jiasule": (521, JIASULE, [("Set-Cookie", "__jsluid_s=0c6e1d2b9a; max-age=31536000; path=/")]),
    "interstitial": (200, INTERSTITIAL, []),
    "waf": (403, WAF, []),
}

INDEX_LINKS = [
    "/article.html",
    "/challenge/ruishu.html",
    "/challenge/jiasule.html",
    "/challenge/interstitial.html",
    "/challenge/waf.html",
    "/challenge/pass/once.html?kind=ruishu&n=1",
    "/challenge/pass/twice.html?kind=jiasule&n=2",
    "/challenge/paged/t20240301_100.html",
]


def answer(
    handler: ReplicaRequestHandler,
    path: str,
    query: dict[str, list[str]],
    article: bytes,
    list_page: bytes,
) -> None:
    """Answer one ``/challenge/…`` request (module doc)."""
    html = [("Content-Type", "text/html; charset=utf-8")]
    name = path[len("/challenge/") :]
    if name == "index.html":
        handler.send_bytes(200, list_page, html)
        return
    if name == "blocked-list.html":
        name = "interstitial.html"
    elif name == "paged/t20240301_100.html":
        pager = b'<div class="page"><span>1</span> <a href="t20240301_100_1.html">2</a></div>'
        handler.send_bytes(200, article.replace(b"</body>", pager + b"</body>"), html)
        return
    elif name == "paged/t20240301_100_1.html":
        name = "ruishu.html"
    if name.startswith("pass/"):
        kind = query.get("kind", ["ruishu"])[0]
        try:
            times = int(query.get("n", ["1"])[0])
        except ValueError:
            times = 1
        if kind in WALLS and handler.server.faults.hit(f"challenge:{name}") <= times:
            name = f"{kind}.html"
        else:
            handler.send_bytes(200, article, html)
            return
    wall = WALLS.get(name.removesuffix(".html"))
    if wall is None:
        handler.send_bytes(404, b"not found", [("Content-Type", "text/plain")])
        return
    status, body, headers = wall
    handler.send_bytes(status, body.encode("utf-8"), html + headers)
