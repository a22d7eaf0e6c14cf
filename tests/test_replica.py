"""The offline replica: pages, encodings, pagination, faults, growth, portal files."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import signal
import subprocess
import sys
import time
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import opencc
import pytest
from parsel import Selector

from crawler.portals import Portal, load_portals
from crawler.replica import Replica, ReplicaServer, load_manifest, serve_replica
from crawler.replica.sites import build_manifest, manifest_json

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
PORTAL_NAMES = sorted(MANIFEST["portals"])
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")


@pytest.fixture(scope="module")
def replica_server() -> Iterator[tuple[ReplicaServer, str]]:
    with serve_replica() as started:
        yield started


@pytest.fixture
def fresh_server() -> Iterator[tuple[ReplicaServer, str]]:
    """A server of its own, for tests that add articles."""
    with serve_replica() as started:
        yield started


@pytest.fixture(scope="module")
def portals() -> dict[str, Portal]:
    return load_portals(ROOT / "seeds")


def fetch(
    base: str,
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    """Request a real-world URL (or a /_replica path) from the replica."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=timeout)
    if "://" in url:
        real = urlsplit(url)
        target = f"/{real.netloc}{real.path}" + (f"?{real.query}" if real.query else "")
    else:
        target = url
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def list_links(html: str, page_url: str, css: list[str] | None = None) -> set[str]:
    sel = Selector(text=html)
    roots = [node for c in css for node in sel.css(c)] if css else [sel]
    hrefs = {h for root in roots for h in root.css("a::attr(href)").getall()}
    return {urljoin(page_url, h) for h in hrefs if not h.startswith(("javascript:", "#"))}


def decode(portal: str, body: bytes) -> str:
    return body.decode(MANIFEST["portals"][portal]["encoding"])


def strip_tags(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


# -- manifest and data ----------------------------------------------------------


def test_manifest_file_matches_the_site_data() -> None:
    assert manifest_json(build_manifest(Replica())) == manifest_json(MANIFEST)


def test_manifest_shape() -> None:
    assert PORTAL_NAMES == ["cri", "dali", "docin", "lnzf", "scfzw"]
    seeds = {}
    for name, portal in MANIFEST["portals"].items():
        assert len(portal["list_pages"]) >= 3, name
        assert len(portal["articles"]) >= 6, name
        for article in portal["articles"]:
            if article["seed"]:
                seeds[article["seed"]] = (name, article)
    assert sorted(seeds) == ["000", "001", "002", "003", "004"]
    assert MANIFEST["expected_kept_total"] == sum(
        p["expected_kept"] for p in MANIFEST["portals"].values()
    )
    groups = {g["kept"]: g for g in MANIFEST["duplicate_groups"]}
    kinds = sorted(d["kind"] for g in groups.values() for d in g["duplicates"])
    assert kinds == ["exact", "near", "near", "near"]
    # seed 000 reprinted on lnzf, 003 on cri, 004 on dali
    origin_of = {d["url"]: g["kept"] for g in MANIFEST["duplicate_groups"] for d in g["duplicates"]}
    assert origin_of[url_of("lnzf", "reprint000")] == url_of("cri", "seed000")
    assert origin_of[url_of("cri", "reprint003")] == url_of("lnzf", "seed003")
    assert origin_of[url_of("dali", "reprint004")] == url_of("scfzw", "seed004")
    # different articles on one meeting, on more than one portal
    event = MANIFEST["same_event"]["ln-shzl-meeting-2022-07-14"]
    assert len(event) >= 3
    assert len({urlsplit(u).netloc for u in event}) >= 2


def url_of(portal: str, key: str) -> str:
    return next(a["url"] for a in MANIFEST["portals"][portal]["articles"] if a["key"] == key)


def article_of(portal: str, key: str) -> dict[str, object]:
    return next(a for a in MANIFEST["portals"][portal]["articles"] if a["key"] == key)


def test_seed_records_follow_the_contract() -> None:
    seed0 = article_of("cri", "seed000")
    assert seed0["title"] == "辽宁省社会治理工作会议召开"
    assert seed0["original_title"] == "全省社会治理工作会议召开 张国清讲话 李乐成主持 周波出席"
    assert seed0["published_at"] == "2022-07-15T10:12:31+08:00"
    assert (seed0["source"], seed0["authors"]) == ("辽宁日报", ["杨忠厚"])
    assert (seed0["editors"], seed0["responsible_editors"]) == (["王巍"], ["李胜兰"])
    assert str(seed0["text"]).startswith("7月14日,辽宁省社会治理工作会议在沈阳召开。")
    assert str(seed0["text"]).endswith("和沈抚示范区设分会场。")  # the credit is byline
    seed1 = article_of("dali", "seed001")
    assert (seed1["published_at"], seed1["source"], seed1["authors"]) == (
        "2020-06-23T11:12:00+08:00",
        None,
        ["黄莎"],
    )
    assert str(seed1["text"]).endswith("州委平安大理建设领导小组办公室全体工作人员参加会议。")
    seed2 = article_of("docin", "seed002")
    assert seed2["published_at"] is None
    assert str(seed2["text"]).startswith("同志们:")
    assert str(seed2["text"]).endswith("以上就是我的发言,谢谢大家!")
    assert set(seed2["quality_flags"]) >= {"template_placeholders", "truncated_preview"}  # type: ignore[call-overload]
    seed3 = article_of("lnzf", "seed003")
    assert seed3["title"] == "于天敏赴本溪市调研市域社会治理现代化工作"
    assert (seed3["published_at"], seed3["source"], seed3["authors"]) == (
        "2020-07-16T08:45:00+08:00",
        "辽宁法制报",
        ["白国军"],
    )
    assert seed3["original_script"] == "traditional"
    assert (seed3["text_start"], seed3["text_end"]) == (
        "本报讯",
        "省委政法委副书记卢秉宇随同调研。",
    )
    seed4 = article_of("scfzw", "seed004")
    assert (seed4["published_at"], seed4["source"], seed4["authors"]) == (
        "2021-09-02T17:33:01+08:00",
        "渠县政法委",
        [],
    )
    assert seed4["responsible_editors"] == ["李位川"]
    assert str(seed4["text"]).endswith("夏华勇、张洪波、董中平、钱文军等县领导参加会议。")


def test_converter_pages_convert_back_to_the_manifest_text(replica_server) -> None:
    """lnzf pages, pinyin removed and converted back, give the manifest's text."""
    _, base = replica_server
    back = opencc.OpenCC("tw2s")
    checked = 0
    for article in MANIFEST["portals"]["lnzf"]["articles"]:
        if article["text"] is None:
            continue
        _, _, body = fetch(base, article["url"])
        html = body.decode("utf-8")
        content = html.split('<div class="TRS_Editor">', 1)[1].split("</div>", 1)[0]
        paragraphs = [strip_tags(p).strip() for p in re.findall(r"<p>(.*?)</p>", content)]
        assert any(PINYIN.search(p) for p in paragraphs)
        text = "\n".join(
            unicodedata.normalize("NFKC", back.convert(PINYIN.sub("", p))) for p in paragraphs
        )
        text = text.replace("\u3000", "").replace("  ", "")
        # the page may close with a reporter's credit, which the record keeps as byline
        assert text.startswith(article["text"])
        rest = text[len(article["text"]) :]
        assert not rest or re.fullmatch(r"\([^()]{0,12}记者[^()]{1,20}\)", rest), rest
        checked += 1
    assert checked >= 5


# -- serving --------------------------------------------------------------------


def test_server_listens_on_loopback(replica_server) -> None:
    server, base = replica_server
    assert base.startswith("http://127.0.0.1:")
    assert server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("portal", PORTAL_NAMES)
def test_every_page_is_served_with_its_encoding(replica_server, portal: str) -> None:
    _, base = replica_server
    info = MANIFEST["portals"][portal]
    urls = info["list_pages"] + [a["url"] for a in info["articles"]]
    for url in urls:
        status, headers, body = fetch(base, url)
        assert status == 200, url
        assert headers["content-type"] == info["content_type"]
        assert headers["content-length"] == str(len(body))
        text = decode(portal, body)
        assert "<html" in text
    for article in info["articles"]:
        _, _, body = fetch(base, article["url"])
        text = unicodedata.normalize("NFKC", strip_tags(decode(portal, body)))
        if article["text"] is not None and portal != "lnzf":
            for paragraph in str(article["text"]).split("\n"):
                assert paragraph in text, (article["url"], paragraph[:20])


def test_scfzw_is_gb18030_declared_gb2312(replica_server) -> None:
    _, base = replica_server
    status, headers, body = fetch(base, url_of("scfzw", "wuhou_community"))
    assert status == 200
    assert headers["content-type"] == "text/html; charset=gb2312"
    assert b'content="text/html; charset=gb2312"' in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gbk")  # 䶮 is a GB18030-only code
    text = body.decode("gb18030")
    assert "刘堃" in text
    assert "李䶮" in text
    seed = fetch(base, url_of("scfzw", "seed004"))[2].decode("gb18030")
    assert "来源：渠县政法委</span> <span>作者：</span> <span>发布时间：2021-09-02 17:33:01" in seed
    assert "责任编辑：李位川" in seed
    # the inner </script> ends the script early and leaves "');" as text
    tail = seed.split("</script>", 3)
    assert any(part.startswith("');") for part in tail)


def test_lnzf_seed_is_the_converter_output_verbatim(replica_server) -> None:
    _, base = replica_server
    _, headers, body = fetch(base, url_of("lnzf", "seed003"))
    assert headers["content-type"] == "text/html; charset=UTF-8"
    html = body.decode("utf-8")
    seed = next((ROOT / "crawler/replica/sites/lnzf/articles").glob("seed003.toml")).read_text(
        encoding="utf-8"
    )
    assert "歡迎來到遼寧長安網(wǎng)" in html
    assert (
        "來源:遼寧法制報(bào) | 作者:駐省委政法委首席記者 白國軍 | "
        "發(fā)布時(shí)間: 2020-07-16 08:45" in html
    )
    assert "本報(bào)訊?7月15日" in html
    assert "交流?!包h委政府站位高" in html
    assert "\ue029" in html
    assert "本報(bào)訊?7月15日" in seed


def test_cri_info_line_runs_together(replica_server) -> None:
    _, base = replica_server
    html = fetch(base, url_of("cri", "seed000"))[2].decode("utf-8")
    info = html.split('<div class="asource">', 1)[1].split("</div>", 1)[0]
    line = unicodedata.normalize("NFKC", strip_tags(info))
    assert line == "2022-07-15 10:12:31来源:辽宁日报编辑:王巍责编:李胜兰"
    assert "原标题：全省社会治理工作会议召开" in html
    assert "国际在线版权与信息产品内容销售的声明" in html


def test_dali_and_docin_page_furniture(replica_server) -> None:
    _, base = replica_server
    dali = fetch(base, url_of("dali", "seed001"))[2].decode("utf-8")
    assert "当前位置 : " in dali
    assert "<li>来源：</li>" in dali
    assert "<li>作者：黄莎</li>" in dali
    assert "字体：【" in dali
    docin = fetch(base, url_of("docin", "seed002"))[2].decode("utf-8")
    assert "预览阅读已结束，若您需要全文或代笔。" in docin
    assert "请点击👉" in docin


def test_gzip_when_accepted(replica_server) -> None:
    _, base = replica_server
    url = MANIFEST["portals"]["cri"]["list_pages"][0]
    _, plain_headers, plain = fetch(base, url)
    assert "content-encoding" not in plain_headers
    _, headers, packed = fetch(base, url, headers={"Accept-Encoding": "gzip, deflate"})
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == plain


def test_keep_alive_serves_several_requests_on_one_connection(replica_server) -> None:
    _, base = replica_server
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=5)
    try:
        for info in MANIFEST["portals"].values():
            real = urlsplit(info["start_url"])
            conn.request("GET", f"/{real.netloc}{real.path}")
            resp = conn.getresponse()
            assert resp.status == 200
            assert not resp.will_close
            resp.read()
    finally:
        conn.close()


def test_redirects_name_real_world_urls(replica_server) -> None:
    _, base = replica_server
    status, headers, _ = fetch(base, "/www.dali.gov.cn/")
    assert status == 302
    assert headers["location"] == "http://www.dali.gov.cn/dlrmzf/tpxw/index.html"
    status, headers, _ = fetch(base, "/ln.cri.cn/news")
    assert (status, headers["location"]) == (301, "https://ln.cri.cn/news/")
    assert "127.0.0.1" not in headers["location"]


def test_not_found_pages_and_unknown_hosts(replica_server) -> None:
    _, base = replica_server
    status, headers, body = fetch(base, "http://www.scfzw.net/shzl/2021-09/02/1.html")
    assert status == 404
    assert "页面不存在" in body.decode("gb18030")
    status, headers, _ = fetch(base, "/www.example.com/index.html")
    assert (status, headers["x-replica"]) == (404, "unknown-host")


@pytest.mark.parametrize("portal", PORTAL_NAMES)
def test_robots_txt_allows_all_but_search(replica_server, portal: str) -> None:
    _, base = replica_server
    host = MANIFEST["portals"][portal]["host"]
    status, headers, body = fetch(base, f"/{host}/robots.txt")
    assert status == 200
    assert headers["content-type"] == "text/plain"
    lines = body.decode("ascii").splitlines()
    assert lines[0] == "User-agent: *"
    assert any(line.startswith("Disallow: /search") for line in lines)
    assert "Disallow: /" not in lines


# -- pagination and portal definitions --------------------------------------------


def next_page(portal: Portal, html: str, url: str) -> str | None:
    """The next list page, read the way each pagination style announces it."""
    sel = Selector(text=html)
    style = portal.pagination.style
    if style == "next":
        hrefs = [
            h for css in portal.pagination.next_css for h in sel.css(css + "::attr(href)").getall()
        ]
        return urljoin(url, hrefs[0]) if hrefs else None
    if style == "createPageHTML":
        match = re.search(r'createPageHTML\((\d+),\s*(\d+),\s*"(\w+)",\s*"(\w+)"\)', html)
        assert match, url
        total, current, name, ext = int(match[1]), int(match[2]), match[3], match[4]
        return urljoin(url, f"{name}_{current + 1}.{ext}") if current + 1 < total else None
    # index_n: index.html, index_2.html ...
    match = re.search(r"index(?:_(\d+))?\.html$", url)
    assert match, url
    candidate = urljoin(url, f"index_{int(match[1] or 1) + 1}.html")
    links = list_links(html, url)
    return candidate if candidate in links else None


@pytest.mark.parametrize("portal_name", PORTAL_NAMES)
def test_pagination_reaches_every_article(replica_server, portals, portal_name: str) -> None:
    _, base = replica_server
    portal = portals[portal_name]
    info = MANIFEST["portals"][portal_name]
    assert portal.pagination.style == info["pagination"]
    assert portal.start_urls == [info["start_url"]]
    url: str | None = portal.start_urls[0]
    visited: list[str] = []
    found: set[str] = set()
    while url is not None and len(visited) < 20:
        status, _, body = fetch(base, url)
        assert status == 200, url
        visited.append(url)
        html = decode(portal_name, body)
        links = list_links(html, url, portal.links.restrict_css)
        found |= {u for u in links if any(p.search(u) for p in portal.article_patterns)}
        url = next_page(portal, html, url)
    assert visited == info["list_pages"]
    assert found == {a["url"] for a in info["articles"]}


@pytest.mark.parametrize("portal_name", PORTAL_NAMES)
def test_article_regexes_match_articles_only(replica_server, portals, portal_name: str) -> None:
    _, base = replica_server
    portal = portals[portal_name]
    info = MANIFEST["portals"][portal_name]
    assert portal.allowed_domains == [info["host"]]
    articles = {a["url"] for a in info["articles"]}
    everything: set[str] = set()
    for url in info["list_pages"]:
        everything |= list_links(decode(portal_name, fetch(base, url)[2]), url)
    for article_url in articles:  # related-article boxes link articles too
        everything |= list_links(decode(portal_name, fetch(base, article_url)[2]), article_url)
    matched = {u for u in everything if any(p.search(u) for p in portal.article_patterns)}
    assert matched == articles
    non_articles = everything - articles
    assert len(non_articles) >= 10  # navigation, columns, pager, footer links exist
    for url in info["list_pages"]:
        assert not any(p.search(url) for p in portal.article_patterns), url


# -- faults -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 503, 429])
def test_fault_status_codes(replica_server, code: int) -> None:
    _, base = replica_server
    status, headers, _ = fetch(base, f"http://faults.test/status/{code}")
    assert status == code
    if code in (429, 503):
        assert headers["retry-after"] == "1"


def test_fault_flaky_recovers(replica_server) -> None:
    _, base = replica_server
    url = "http://faults.test/flaky/t1?fail=2&code=503"
    assert [fetch(base, url)[0] for _ in range(3)] == [503, 503, 200]


def test_fault_delay(replica_server) -> None:
    _, base = replica_server
    start = time.monotonic()
    status, _, _ = fetch(base, "http://faults.test/delay?seconds=1")
    assert status == 200
    assert time.monotonic() - start >= 1.0


def test_fault_hang_before_headers(replica_server) -> None:
    _, base = replica_server
    with pytest.raises(TimeoutError):
        fetch(base, "http://faults.test/hang?seconds=5", timeout=0.5)


def test_fault_drop_mid_body(replica_server) -> None:
    _, base = replica_server
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        fetch(base, "http://faults.test/drop")


def test_fault_short_content_length(replica_server) -> None:
    _, base = replica_server
    with pytest.raises(http.client.IncompleteRead):
        fetch(base, "http://faults.test/short-length")


@pytest.mark.parametrize("query", ["", "?mode=badsize"])
def test_fault_broken_chunked(replica_server, query: str) -> None:
    _, base = replica_server
    with pytest.raises((http.client.IncompleteRead, ValueError)):
        fetch(base, "http://faults.test/broken-chunked" + query)


def test_fault_wrong_charsets(replica_server) -> None:
    _, base = replica_server
    _, headers, body = fetch(base, "http://faults.test/charset/gbk-as-utf8")
    assert "utf-8" in headers["content-type"]
    assert b'charset="utf-8"' in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert "平安建设" in body.decode("gbk")
    _, headers, body = fetch(base, "http://faults.test/charset/utf8-as-gb2312")
    assert headers["content-type"].endswith("gb2312")
    assert "平安建设" in body.decode("utf-8")


def test_fault_redirects(replica_server) -> None:
    _, base = replica_server
    status, headers, _ = fetch(base, "http://faults.test/redirect-loop")
    assert (status, headers["location"]) == (302, "http://faults.test/redirect-loop/1")
    _, headers, _ = fetch(base, headers["location"])
    assert headers["location"] == "http://faults.test/redirect-loop/0"
    _, headers, _ = fetch(base, headers["location"])
    assert headers["location"] == "http://faults.test/redirect-loop/1"
    assert fetch(base, "http://faults.test/redirect/file")[1]["location"] == "file:///etc/passwd"
    assert fetch(base, "http://faults.test/redirect/ftp")[1]["location"].startswith("ftp://")


def test_fault_gzip_bomb(replica_server) -> None:
    _, base = replica_server
    _, headers, body = fetch(base, "http://faults.test/gzip-bomb?mib=16")
    assert headers["content-encoding"] == "gzip"
    assert len(body) < 64 * 1024
    inflater = zlib.decompressobj(31)
    total = 0
    for start in range(0, len(body), 4096):
        total += len(inflater.decompress(body[start : start + 4096]))
    assert total == 16 * 1024 * 1024


def test_fault_gzip_without_content_encoding(replica_server) -> None:
    _, base = replica_server
    _, headers, body = fetch(base, "http://faults.test/gzip-no-encoding")
    assert "content-encoding" not in headers
    assert headers["content-type"].startswith("text/html")
    assert body[:2] == b"\x1f\x8b"
    assert "平安建设" in gzip.decompress(body).decode("utf-8")


def test_fault_robots_variants(replica_server) -> None:
    _, base = replica_server
    status, _, body = fetch(base, "http://robots-garbage.faults.test/robots.txt")
    assert status == 200
    assert b"\x89PNG" in body
    assert fetch(base, "http://robots-empty.faults.test/robots.txt")[:3:2] == (200, b"")
    assert fetch(base, "http://robots-500.faults.test/robots.txt")[0] == 500
    assert fetch(base, "http://robots-disallow.faults.test/robots.txt")[2] == (
        b"User-agent: *\nDisallow: /\n"
    )
    assert fetch(base, "http://robots-500.faults.test/article.html")[0] == 200


# -- growth ---------------------------------------------------------------------------


def post(base: str, path: str, data: dict[str, object]) -> tuple[int, dict[str, object]]:
    status, _, body = fetch(
        base,
        path,
        method="POST",
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
    )
    return status, json.loads(body)


@pytest.mark.parametrize("portal_name", PORTAL_NAMES)
def test_add_puts_a_new_article_on_the_first_list_page(
    fresh_server, portals, portal_name: str
) -> None:
    _, base = fresh_server
    portal = portals[portal_name]
    info = MANIFEST["portals"][portal_name]
    first = info["list_pages"][0]
    before = list_links(
        decode(portal_name, fetch(base, first)[2]), first, portal.links.restrict_css
    )
    status, answer = post(base, "/_replica/add", {"site": portal_name})
    assert status == 201
    new_url = str(answer["url"])
    assert any(p.search(new_url) for p in portal.article_patterns)
    assert new_url not in {a["url"] for a in info["articles"]}
    html = decode(portal_name, fetch(base, first)[2])
    after = list_links(html, first, portal.links.restrict_css)
    assert new_url in after
    assert new_url not in before
    status, headers, _ = fetch(base, new_url)
    assert status == 200
    assert headers["content-type"] == info["content_type"]
    manifest = json.loads(fetch(base, "/_replica/manifest")[2])
    urls = [a["url"] for a in manifest["portals"][portal_name]["articles"]]
    assert urls[0] == new_url
    assert len(urls) == len(info["articles"]) + 1


def test_add_given_article_and_reprint_then_reset(fresh_server, portals) -> None:
    _, base = fresh_server
    article = {
        "title": "某市召开社会治理工作推进会",
        "body": "8月1日，某市召开社会治理工作推进会。\n会议要求，要深入推进市域社会治理现代化。",
        "published_at": "2024-08-01T09:30:00+08:00",
        "source": "某市委政法委",
        "author_line": "张三",
        "authors": ["张三"],
    }
    status, answer = post(base, "/_replica/add", {"site": "scfzw", "article": article})
    assert status == 201
    assert (
        answer["url"]
        == "http://www.scfzw.net/shzl/2024-08/01/" + str(answer["url"]).rsplit("/", 1)[1]
    )
    page = fetch(base, str(answer["url"]))[2].decode("gb18030")
    assert "发布时间：2024-08-01 09:30:00" in page

    status, answer = post(
        base, "/_replica/add", {"site": "docin", "reprint_of": url_of("dali", "stability_meeting")}
    )
    assert status == 201
    entry = answer["article"]
    assert entry["reprint_of"] == url_of("dali", "stability_meeting")  # type: ignore[index]
    assert entry["duplicate"] == "exact"  # type: ignore[index]
    reprint = fetch(base, str(answer["url"]))[2].decode("utf-8")
    assert "州委政法委召开平安建设工作调度会" in reprint

    assert post(base, "/_replica/add", {"site": "nowhere"})[0] == 400
    assert post(base, "/_replica/add", {"site": "cri", "reprint_of": "http://x/1.html"})[0] == 400

    assert post(base, "/_replica/reset", {})[0] == 200
    manifest = json.loads(fetch(base, "/_replica/manifest")[2])
    assert manifest_json(manifest) == manifest_json(MANIFEST)


def test_adding_pushes_articles_onto_a_new_list_page(fresh_server) -> None:
    _, base = fresh_server
    info = MANIFEST["portals"]["dali"]
    last = info["list_pages"][-1]
    for n in range(3):
        status, _ = post(
            base,
            "/_replica/add",
            {"site": "dali", "article": {"title": f"测试文章{n}", "body": "内容" * 60}},
        )
        assert status == 201
    manifest = json.loads(fetch(base, "/_replica/manifest")[2])
    pages = manifest["portals"]["dali"]["list_pages"]
    assert len(pages) == len(info["list_pages"]) + 1
    html = fetch(base, last)[2].decode("utf-8")
    assert f'createPageHTML({len(pages)}, {len(pages) - 2}, "index", "html")' in html
    assert fetch(base, pages[-1])[0] == 200


# -- the command ------------------------------------------------------------------------


def test_replica_command_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "replica", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"replica listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match[2]) > 0
        status, _, _ = fetch(match[1], MANIFEST["portals"]["docin"]["start_url"])
        assert status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
