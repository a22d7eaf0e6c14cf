"""Challenge pages: each wall's page is named, ordinary pages (even ones that talk about
security checks) are not.  The pages are written for the test in each wall's style."""

from __future__ import annotations

import re

import pytest
from scrapy.http import Headers

from pipelines import challenge
from pipelines.challenge import classify, cookie_names, visible_text

RUISHU_412 = """<!DOCTYPE html><html><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta id="Ab3kPq9Zx2Lm" content="e0ZkNq.HsW3m8xYqLp2Vr0aBcD1fGhIjKlMnOpQrStUvWxYz" r='m'>
<script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=61820;
$_ts.cd="qAfrrpAlEaWrcqqmqG3qqGAqDq1Gcs9lqq";if($_ts.lcd)$_ts.lcd();</script>
<script type="text/javascript" charset="utf-8" src="/Xk9PbLq2rT5w/cG7aZmL1sQe9.b83f1d2.js" r='m'>
</script></head><body></body></html>"""

# A 412 whose inline script was stripped by a proxy: the r='m' marker alone names it.
RUISHU_412_BARE = """<html><head><meta id="Zq1" content="x" r="m">
<script src="/a/b.js" r="m"></script></head><body></body></html>"""

JIASULE_FIRST = (
    "<script>document.cookie=('_')+('_')+('j')+('s')+('l')+('_')+('c')+('l')+('e')+('a')+('r')"
    "+('a')+('n')+('c')+('e')+('_')+('s')+('=')+(-~{}+'')+((1<<2)+'')+'|-1|'+(2+[]);"
    "location.href=location.pathname+location.search</script>"
)
JIASULE_SECOND = (
    '<script>var _0x1a=["\\x72"];function go(_0x2b){};go({"bts":["1701422","|0|fK%3D"],'
    '"chars":"PqrstUVw","ct":"5a8c","ha":"sha256","is":true,"tn":"__jsl_clearance_s",'
    '"vt":"3600","wt":"1500"})</script>'
)

INTERSTITIAL = """<!doctype html><html><head><meta charset="utf-8"><title>安全验证</title>
<style>body{font:14px sans-serif;text-align:center}</style></head><body>
<div class="box"><img src="/verify/loading.gif"><p>请稍候,正在进行安全验证……</p>
<p>如果页面长时间没有响应,请<a href="javascript:location.reload()">刷新</a>。</p></div>
<script>setTimeout(function(){document.cookie="verify_token=8f2c1a;path=/";location.reload();},1800);
</script></body></html>"""

CLOUD_CHECK = """<html><head><title>Just a moment...</title></head><body>
<h1>Checking your browser before accessing the site.</h1><noscript>Please enable JavaScript and
cookies to continue</noscript></body></html>"""

WAF_BLOCK = """<html><head><title>网站防火墙</title></head><body><div class="main">
<h2>您的请求带有不合法参数,已被网站管理员设置拦截!</h2><p>可能原因:您提交的内容包含危险的攻击请求</p>
<p>如何解决:检查提交内容;如网站托管,请联系空间提供商</p><a href="http://www.safedog.cn/">
网站防火墙</a></div></body></html>"""

LONG_TEXT = (
    "6月11日,全省网络安全宣传周启动仪式在省会举行。会议指出,要落实网络安全等级保护制度,"
    "完善数据安全验证和个人信息保护工作机制,加强关键信息基础设施安全检查。" * 8
)
ARTICLE_ON_SECURITY = f"""<html><head><title>全省网络安全宣传周启动_某某省人民政府</title></head>
<body><div class="nav"><a href="/">首页</a><a href="/zwgk/">政务公开</a></div>
<h1>全省网络安全宣传周启动</h1><div class="info">2023-09-11 来源:省委网信办</div>
<div class="TRS_Editor"><p>{LONG_TEXT}</p></div>
<div class="foot">版权所有:某某省人民政府办公厅 网站标识码:1100000001</div></body></html>"""

# An article page whose search box says 请稍候 while it loads: long text, no wall.
ARTICLE_WITH_WIDGET = ARTICLE_ON_SECURITY.replace(
    "<h1>", "<div id='search'><span class='tip'>请稍候…</span></div><h1>"
)


@pytest.mark.parametrize(
    ("status", "headers", "html", "kind"),
    [
        (412, {}, RUISHU_412, "ruishu"),
        (202, {}, RUISHU_412, "ruishu"),
        (200, {}, RUISHU_412, "ruishu"),
        (412, {}, RUISHU_412_BARE, "ruishu"),
        (
            521,
            {"Set-Cookie": "__jsluid_s=5e1f0d7a3c; max-age=31536000; path=/"},
            JIASULE_FIRST,
            "jiasule",
        ),
        (521, {}, JIASULE_SECOND, "jiasule"),
        (200, {}, JIASULE_SECOND, "jiasule"),
        (200, {}, INTERSTITIAL, "interstitial"),
        (503, {}, CLOUD_CHECK, "interstitial"),
        (403, {}, WAF_BLOCK, "waf"),
        (
            200,
            {b"Set-Cookie": [b"yunsuo_session_verify=77a1; path=/"]},
            "<html><body>"
            "<script>window.location.href='/?security_verify_data=313932302c31303830';</script>"
            "</body></html>",
            "waf",
        ),
    ],
)
def test_walls_are_named(status: int, headers: dict, html: str, kind: str) -> None:
    assert classify(status, headers, html) == kind


def test_scrapy_headers_are_read() -> None:
    headers = Headers({"Set-Cookie": ["a=1; path=/", "__jsluid_h=9c; path=/"]})
    assert cookie_names(headers) == ["a", "__jsluid_h"]
    assert classify(521, headers, JIASULE_FIRST) == "jiasule"


@pytest.mark.parametrize(
    ("status", "headers", "html"),
    [
        (200, {}, ARTICLE_ON_SECURITY),
        (200, {}, ARTICLE_WITH_WIDGET),
        # a real precondition failure: a 412 with no wall's marker
        (412, {}, "<html><body><h1>412 Precondition Failed</h1></body></html>"),
        # a 521 from a CDN whose origin is down is no 加速乐 page
        (521, {}, "<html><body><h1>Web server is down</h1><p>Error code 521</p></body></html>"),
        # the first jiasule page's cookie script on a status that is not 521, with no cookie
        (200, {}, JIASULE_FIRST),
        (404, {}, "<html><body>页面不存在</body></html>"),
        (200, {}, ""),
    ],
)
def test_ordinary_pages_are_not_walls(status: int, headers: dict, html: str) -> None:
    assert classify(status, headers, html) is None


def test_phrases_in_scripts_are_not_visible() -> None:
    # a long page whose only 请稍候 is inside a script is no interstitial, nor is the
    # phrase counted when it sits in a script of a short page
    html = "<html><body><p>正文。</p><script>var tip='请稍候';</script></body></html>"
    assert visible_text(html) == "正文。"
    assert classify(200, {}, html) is None


def test_every_rule_is_loaded_with_a_known_kind() -> None:
    kinds = {rule.kind for rule in challenge.RULES}
    assert kinds == set(challenge.KINDS)


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ('[[rule]]\nkind = "captcha"\npatterns = ["x"]', "kind 'captcha'"),
        ('[[rule]]\nkind = "waf"\npatterns = ["("]', "rule 1 (waf)"),
        ('[[rule]]\nkind = "waf"\nmax_text = 10', "no patterns, cookies or phrases"),
        ('[[rule]]\nkind = "waf"\nphrase = ["x"]', "unknown keys ['phrase']"),
    ],
)
def test_bad_rules_name_the_cause(source: str, cause: str) -> None:
    with pytest.raises(ValueError, match=re.escape(cause)):
        challenge.parse_rules(source)
