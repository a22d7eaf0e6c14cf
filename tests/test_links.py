"""Article-link and pagination rules on saved list pages (no crawler)."""

from __future__ import annotations

import re
from pathlib import Path

from parsel import Selector

from crawler import links

DATA = Path(__file__).parent / "data" / "lists"
TRS_URL = "http://www.example.gov.cn/xwzx/gzdt/index.html"


def trs_page() -> Selector:
    return Selector(text=(DATA / "trs_list.html").read_bytes().decode("gb18030"))


def test_trs_create_page_html_next_pages() -> None:
    sel = trs_page()
    assert (
        links.create_page_html_next(sel, TRS_URL)
        == "http://www.example.gov.cn/xwzx/gzdt/index_1.html"
    )
    last = Selector(text='<script>createPageHTML(5, 4, "index", "html");</script>')
    assert links.create_page_html_next(last, TRS_URL) is None
    quoted = Selector(text="<script>createPageHTML('3','1','index','shtml');</script>")
    assert links.create_page_html_next(quoted, TRS_URL) == (
        "http://www.example.gov.cn/xwzx/gzdt/index_2.shtml"
    )


def test_portal_rules_pick_article_links_only() -> None:
    found = links.portal_article_links(
        trs_page(), TRS_URL, [re.compile(r"/t\d{8}_\d+\.html$")], [re.compile(r"othersite")]
    )
    assert [link.url.rsplit("/", 1)[-1] for link in found] == [
        "t20200716_1234567.html",
        "t20200715_1234566.html",
        "t20200714_1234560.html",
        "t20200713_1234551.html",
    ]
    # The title attribute carries the whole headline when the text is cut short.
    assert found[0].text == "县委政法委召开市域社会治理现代化试点工作推进会"


def test_heuristics_find_articles_on_allowed_host_and_skip_navigation() -> None:
    found = links.heuristic_article_links(trs_page(), TRS_URL, ["www.example.gov.cn"])
    urls = [link.url for link in found]
    assert len(urls) == 4
    assert all("/202007/t202007" in u for u in urls)
    assert not any("index" in u or "zwgk" in u for u in urls)


def test_heuristic_scores() -> None:
    assert links.article_score("http://a.gov.cn/art/2020/7/16/art_12_345.html", "某县召开会议") >= 1
    assert links.article_score("http://a.gov.cn/col/col123/index.html", "新闻中心新闻中心") == 0
    long_text = "全县平安建设工作会议召开部署下一阶段重点任务"
    assert links.article_score("http://a.gov.cn/xw/2020-07/16/c_1126243.htm", long_text) >= 1
    assert links.article_score("http://a.gov.cn/about.html", "关于我们") < 1


def test_index_n_next_follows_the_smallest_higher_number() -> None:
    html = """<div class="pages"><a href="index.html">首页</a><a href="index_2.html">2</a>
    <a href="index_3.html">3</a><a href="index_9.html">尾页</a></div>"""
    sel = Selector(text=html)
    base = "http://www.scfzw.net/shzl/index.html"
    assert links.index_n_next(sel, base) == "http://www.scfzw.net/shzl/index_2.html"
    assert links.index_n_next(sel, "http://www.scfzw.net/shzl/index_2.html") == (
        "http://www.scfzw.net/shzl/index_3.html"
    )
    assert links.index_n_next(sel, "http://www.scfzw.net/shzl/index_9.html") is None


def test_next_link_by_text_and_css() -> None:
    html = """<div class="pager"><a href="?page=1">上一页</a><a href="javascript:;">1</a>
    <a class="nx" href="/roll/list-3.html">下一页</a></div>"""
    sel = Selector(text=html)
    base = "http://ln.cri.cn/roll/list-2.html"
    assert links.next_link(sel, base) == "http://ln.cri.cn/roll/list-3.html"
    assert links.next_link(sel, base, css=["a.nx"]) == "http://ln.cri.cn/roll/list-3.html"
    assert links.next_link(Selector(text="<a href='javascript:void(0)'>下一页</a>"), base) is None


def test_next_page_auto_tries_every_style() -> None:
    assert links.next_page(trs_page(), TRS_URL, "auto") == (
        "http://www.example.gov.cn/xwzx/gzdt/index_1.html"
    )
    assert links.next_page(trs_page(), TRS_URL, "none") is None


def test_list_dates_beside_links() -> None:
    found = links.portal_article_links(trs_page(), TRS_URL, [re.compile(r"/t\d{8}_\d+\.html$")])
    assert [link.date for link in found[:4]] == [
        "2020-07-16",
        "2020-07-15",
        "2020-07-14",
        "2020-07-13",
    ]
    html = """<ul><li><a href="/a/t20200101_1.html">标题一标题一标题一</a>(2020年1月1日)</li>
    <li><a href="/a/t20200102_2.html">标题二标题二标题二</a></li></ul>
    <div><a href="/a/t20200103_3.html">三</a> 2020-01-03<br><a href="/a/t20200104_4.html">四</a>
    2020-01-04</div>"""
    dated = links.portal_article_links(
        Selector(text=html), TRS_URL, [re.compile(r"/t\d{8}_\d+\.html$")]
    )
    # Own row; no date shown; a block of several links is ambiguous.
    assert [link.date for link in dated] == ["2020-01-01", None, None, None]
