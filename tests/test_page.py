"""The page pipeline composition (crawler.page): one page in, one record out."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from crawler.ids import content_hash, record_id
from crawler.items import ArticleItem, PageItem
from crawler.page import has_placeholders, process_file, process_page

BODY = [
    "9月1日,达州市渠县召开社会治理形势分析暨平安渠县建设工作会,县委书记出席会议并作重要讲话。",
    "会上,县政府副县长、县公安局局长传达学习了全国、全省扫黑除恶常态化推进会会议精神。",
    "会议要求,要进一步统一思想,提高认识,深刻认识社会治理工作的重要性和紧迫性,切实增强工作责任感。",
    "会议强调,要强化协调联动,形成工作合力,坚持依法治理、源头治理,确保排查化解工作取得实效。",
]


def page_html(title: str, info: str, body: list[str], charset: str = "utf-8") -> str:
    paras = "".join(f"<p>{p.replace(',', '，')}</p>" for p in body)
    return (
        f"<html><head><meta charset='{charset}'><title>{title}_四川法制网</title></head><body>"
        f"<div class='nav'><a href='/'>首页</a> <a href='/shzl/'>社会治理</a></div>"
        f"<h1>{title}</h1><div class='info'>{info}</div><div class='content'>{paras}</div>"
        "<div class='foot'>蜀ICP备12029925号-1 Copyright © 2021</div></body></html>"
    )


def make(html: str, encoding: str = "utf-8", **kw: object) -> PageItem:
    data: dict = {
        "url": "http://www.scfzw.net/shzl/2021-09/02/content_8891234.html",
        "body": html.encode(encoding, "xmlcharrefreplace"),
        "site": "scfzw",
        "site_name": "四川法制网",
        "fetched_at": "2021-09-03T08:00:00+08:00",
        "content_type": None,
    }
    data.update(kw)
    return PageItem(**data)  # type: ignore[arg-type]


def test_a_gbk_page_becomes_a_full_record() -> None:
    html = page_html(
        "渠县召开社会治理形势分析会",
        "来源：渠县政法委 作者：王芳 发布时间：2021-09-02 17:33:01",
        BODY,
        "gb2312",
    )
    item = process_page(make(html, "gbk"))
    assert isinstance(item, ArticleItem)
    assert item.title == "渠县召开社会治理形势分析会"
    assert (item.published_at, item.source, item.authors) == (
        "2021-09-02T17:33:01+08:00",
        "渠县政法委",
        ["王芳"],
    )
    assert item.text == "\n".join(BODY)
    assert item.id == record_id(item.url)
    assert item.content_hash == content_hash(item.text)
    assert item.encoding == "gb18030"
    assert "charset:gb2312->gb18030" in item.fixes
    assert item.original_script == "simplified"
    assert item.quality_flags == ["short_body"]  # under SHORT_TEXT_CHARS
    assert (item.site, item.site_name, item.fetched_at) == (
        "scfzw",
        "四川法制网",
        "2021-09-03T08:00:00+08:00",
    )


def test_inputs_and_outputs_pickle() -> None:
    page = make(page_html("渠县召开社会治理形势分析会", "发布时间：2021-09-02", BODY))
    # worker processes pickle both ways; these are our own objects, not untrusted data
    item = process_page(pickle.loads(pickle.dumps(page)))  # noqa: S301
    assert pickle.loads(pickle.dumps(item)) == item  # noqa: S301


def test_traditional_page_is_converted_and_its_script_recorded() -> None:
    body = ["會議強調，要堅持以人民為中心的發展思想，不斷完善社會治理體系，切實維護社會穩定。" * 3]
    item = process_page(make(page_html("市委政法委召開會議", "發佈時間：2020-07-16", body)))
    assert item.original_script == "traditional"
    assert item.title == "市委政法委召开会议"
    assert item.text.startswith("会议强调,要坚持以人民为中心的发展思想")
    assert "script:t2s" in item.fixes


def test_short_body_and_template_placeholders_are_flagged() -> None:
    body = ["据统计,截至20xx年底,XX省已注册登记的社会组织数量达到X万个,涉及领域广泛。"]
    item = process_page(make(page_html("全省市域社会治理现代化工作会议讲话", "", body)))
    assert "template_placeholders" in item.quality_flags
    assert "short_body" in item.quality_flags


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("《XX省城乡社区治理条例》", True),
        ("截至20xx年底", True),
        ("数量达到X万个", True),
        ("××市××区人民法院", True),
        ("XX消息", True),
        ("使用Windows XP系统和Xbox设备", False),
        ("X光检查和CT扫描", False),
        ("2020年底全省达到3万个", False),
    ],
)
def test_has_placeholders(text: str, found: bool) -> None:
    assert has_placeholders(text) is found


def test_a_preview_notice_outside_the_body_still_flags_the_page() -> None:
    html = page_html("在全县平安建设工作会议上的讲话", "", BODY).replace(
        "<div class='foot'>",
        "<div class='tip'><p>预览阅读已结束,若您需要全文或代笔。</p>"
        "<a class='btn'>继续阅读</a></div><div class='foot'>",
    )
    record = process_page(make(html))
    assert "预览" not in record.text
    assert "truncated_preview" in record.quality_flags
    # The same notice above the article (a site banner) is not a cut body.
    banner = page_html("在全县平安建设工作会议上的讲话", "", BODY).replace(
        "<div class='nav'>", "<div class='ad'>开通会员 付费阅读 全站文档</div><div class='nav'>"
    )
    assert "truncated_preview" not in process_page(make(banner)).quality_flags


def test_list_page_is_flagged() -> None:
    items = "".join(
        f"<li><a href='/a/{i}.html'>全省政法系统第{i}次工作推进会议召开</a>"
        f"<span>2024-05-{i:02d}</span></li>"
        for i in range(1, 16)
    )
    html = (
        "<html><head><title>政法动态_长安网</title></head><body><h2>政法动态</h2>"
        f"<ul>{items}</ul></body></html>"
    )
    item = process_page(make(html))
    assert "list_page" in item.quality_flags


def test_article_with_a_related_list_is_not_a_list_page() -> None:
    related = "".join(
        f"<li><a href='/a/{i}.html'>全省政法系统第{i}次工作推进会议召开</a></li>" for i in range(15)
    )
    html = page_html(
        "渠县召开社会治理形势分析会", "来源：渠县政法委 发布时间：2021-09-02", BODY
    ).replace(
        "<div class='foot'>",
        f"<div class='related'><h3>相关新闻</h3><ul>{related}</ul></div><div class='foot'>",
    )
    item = process_page(make(html))
    assert "list_page" not in item.quality_flags
    assert item.text == "\n".join(BODY)


def test_boilerplate_only_page_is_flagged() -> None:
    html = (
        "<html><head><title>页面不存在</title></head><body><div><a href='/'>网站首页</a></div>"
        "<p>当前位置：<a href='/'>首页</a></p><p>主办：渠县人民政府办公室</p>"
        "<p>蜀ICP备05012345号 川公网安备 51172502000123号</p></body></html>"
    )
    item = process_page(make(html))
    assert item.text == ""
    assert "boilerplate_only" in item.quality_flags


def test_empty_body_bytes() -> None:
    item = process_page(make("", content_type="text/html", url="http://x.cn/show.asp?id=1"))
    assert (item.text, item.title, item.published_at) == ("", None, None)
    assert "no_date" in item.quality_flags


def test_process_file_uses_a_file_url_and_the_mtime(tmp_path: Path) -> None:
    path = tmp_path / "页面.html"
    path.write_bytes(
        page_html("渠县召开社会治理形势分析会", "发布时间：2021-09-02", BODY).encode("utf-8")
    )
    item = process_file(path)
    assert item.url == "file://" + str(path.resolve())
    assert item.fetched_at.endswith("+08:00")
    item = process_file(path, url="http://x.cn/a.html", fetched_at="2021-09-03T08:00:00+08:00")
    assert (item.url, item.fetched_at) == ("http://x.cn/a.html", "2021-09-03T08:00:00+08:00")


def _replica_articles() -> list[tuple[str, dict]]:
    from crawler.replica.sites import Replica, build_manifest

    manifest = build_manifest(Replica())
    return [
        (article["url"], article)
        for portal in manifest["portals"].values()
        for article in portal["articles"]
    ]


@pytest.mark.parametrize(("url", "expected"), _replica_articles())
def test_replica_pages_give_their_manifest_records(url: str, expected: dict) -> None:
    """The offline replica's pages (markup written apart from this stage) as a held-out set."""
    from urllib.parse import urlsplit

    from crawler.replica.sites import Replica

    parts = urlsplit(url)
    resource = Replica().lookup(parts.netloc, parts.path)
    assert resource is not None
    headers = {k.lower(): v for k, v in resource.headers}
    item = process_page(
        PageItem(
            url=url,
            body=resource.body,
            site="replica",
            site_name="",
            fetched_at="2024-06-01T00:00:00+08:00",
            content_type=headers.get("content-type"),
        )
    )
    for field in ("title", "source", "authors", "editors", "responsible_editors"):
        assert getattr(item, field) == expected[field], field
    assert (item.published_at or "")[:10] == (expected["published_at"] or "")[:10]
    if expected["text"] is not None:
        assert item.text == expected["text"]
    else:
        assert item.text.startswith(expected["text_start"])
        assert item.text.endswith(expected["text_end"])


def test_published_at_is_always_a_full_timestamp_with_its_precision() -> None:
    from crawler.page import full_timestamp

    assert full_timestamp("2022-07-15", "day") == ("2022-07-15T00:00:00+08:00", "day")
    assert full_timestamp("2022-07-15T10:12:00+08:00", "minute") == (
        "2022-07-15T10:12:00+08:00",
        "minute",
    )
    assert full_timestamp("2022-07-15T10:12:31+08:00", "second") == (
        "2022-07-15T10:12:31+08:00",
        "second",
    )
    # a zone the page stated is written in China time: one offset in the column
    assert full_timestamp("2022-07-15T02:12:31+00:00", "second") == (
        "2022-07-15T10:12:31+08:00",
        "second",
    )
    assert full_timestamp(None, None) == (None, None)


def test_a_day_only_page_gives_midnight_china_time_with_precision_day() -> None:
    fixture = Path(__file__).parent / "fixtures" / "trs_sx" / "trs_url_date_only"
    meta = json.loads((fixture / "meta.json").read_text(encoding="utf-8"))
    item = process_file(fixture / "page.html", meta["url"], meta.get("fetched_at"))
    assert (item.published_at, item.published_precision) == ("2021-03-05T00:00:00+08:00", "day")
