# ruff: noqa: E501  (page markup and article text: long lines are data)
"""信息公开 metadata, attachments and multi-page articles, page by page.

The pages are written for the test in the styles of TRS WCM and Hanweb templates;
none is copied from a real portal."""

from __future__ import annotations

import typing

import pytest

from crawler.items import ArticleItem, PageItem, Xxgk, empty_xxgk
from crawler.page import process_page
from pipelines.attachments import find_attachments
from pipelines.dom import parse_html
from pipelines.metadata import meta_tags
from pipelines.multipage import continuation_urls, drop_pager
from pipelines.xxgk import XXGK_FIELDS, read_xxgk

P = [
    "为进一步规范行政执法行为,提升执法质量和效能,根据有关法律法规规定,结合本省实际,制定本实施方案。",
    "各地各部门要充分认识推行行政执法三项制度的重要意义,切实加强组织领导,明确责任分工,确保各项任务落到实处。",
    "要全面推行行政执法公示制度,依法及时主动向社会公开有关行政执法信息,自觉接受社会监督。",
    "要全面推行执法全过程记录制度,通过文字、音像等记录形式,对行政执法的启动、调查取证、审核决定、送达执行等全过程进行记录。",
    "要全面推行重大执法决定法制审核制度,未经法制审核或者审核未通过的,不得作出决定。",
    "本方案自印发之日起施行,执行中遇到的问题请及时报告省司法厅。",
]

XXGK_TABLE = """<table class="xxgk_table" width="100%">
<tr><td class="t">索 引 号:</td><td>11330000002482076K/2024-00123</td>
<td class="t">主题分类:</td><td>公安、安全、司法/司法</td></tr>
<tr><td class="t">发文机关:</td><td>浙江省司法厅</td><td class="t">成文日期:</td><td>2024年03月05日</td></tr>
<tr><td class="t">标　　题:</td><td colspan="3">关于印发行政执法三项制度实施方案的通知</td></tr>
<tr><td class="t">发文字号:</td><td>浙司〔2024〕12号</td><td class="t">发布日期:</td><td>2024-03-07</td></tr>
<tr><td class="t">有 效 性:</td><td>有效</td><td></td><td></td></tr></table>"""

XXGK_LI = """<div class="xxgk-info"><ul>
<li><b>索引号:</b><span>001003-2024-000045</span></li><li><b>发布机构:</b><span>某某县司法局</span></li>
<li><b>生成日期:</b><span>2024-01-02</span></li><li><b>文号:</b><span>无</span></li>
<li><b>主题分类:</b><span>政务公开</span></li></ul></div>"""


def page(head: str, top: str, body: str, tail: str = "") -> str:
    return (
        f"<html><head><meta charset='utf-8'><title>关于印发行政执法三项制度实施方案的通知</title>{head}"
        "</head><body><div class='nav'><a href='/'>首页</a> <a href='/zwgk/'>政务公开</a> "
        "<a href='/download/guide.pdf'>网站使用指南.pdf</a></div>"
        f"{top}<h1>关于印发行政执法三项制度实施方案的通知</h1><div class='TRS_Editor'>{body}</div>"
        f"{tail}<div class='footer'>版权所有:某某省司法厅 网站标识码:3300000001</div></body></html>"
    )


def paras(ps: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in ps)


def record(
    html: str,
    url: str = "http://sft.example.gov.cn/art/2024/3/7/art_1229_5812.html",
    more: list[tuple[str, str]] | None = None,
    missing: list[str] | None = None,
) -> ArticleItem:
    return process_page(
        PageItem(
            url=url,
            body=html.encode("utf-8"),
            site="t",
            site_name="某某省司法厅",
            fetched_at="2024-03-08T10:00:00+08:00",
            content_type="text/html; charset=utf-8",
            more_pages=[(u, b.encode("utf-8")) for u, b in more or []],
            missing_pages=list(missing or []),
        )
    )


# --- 信息公开 ------------------------------------------------------------------------


def test_the_xxgk_fields_are_the_records() -> None:
    assert tuple(typing.get_type_hints(Xxgk)) == XXGK_FIELDS
    assert empty_xxgk() == dict.fromkeys(XXGK_FIELDS)


def test_a_table_block_is_read_and_left_out_of_the_text() -> None:
    rec = record(page("", XXGK_TABLE, paras(P)))
    assert rec.xxgk == {
        "index_no": "11330000002482076K/2024-00123",
        "publisher": "浙江省司法厅",
        "written_at": "2024-03-05",
        "published_at": "2024-03-07",
        "doc_no": "浙司〔2024〕12号",
        "category": "公安、安全、司法/司法",
        "validity": "有效",
    }
    assert rec.text.split("\n")[0].startswith("为进一步规范行政执法行为")
    assert "索引号" not in rec.text
    assert "11330000002482076K" not in rec.text
    # no 来源 or date of its own: the record takes the block's
    assert rec.published_at == "2024-03-07T00:00:00+08:00"
    assert rec.published_precision == "day"
    assert rec.source == "浙江省司法厅"
    assert "no_date" not in rec.quality_flags


def test_li_rows_are_read_and_none_is_null() -> None:
    rec = record(page("", XXGK_LI, paras(P)))
    assert rec.xxgk == {
        "index_no": "001003-2024-000045",
        "publisher": "某某县司法局",
        "written_at": None,
        "published_at": "2024-01-02",
        "doc_no": None,  # 无
        "category": "政务公开",
        "validity": None,
    }


def test_meta_tags_fill_fields_the_page_does_not_show() -> None:
    head = '<meta name="IndexNo" content="A-2024-7"><meta name="DocNo" content="某政发〔2024〕3号">'
    tree = parse_html(page(head, "", paras(P)))
    got = read_xxgk(tree, meta_tags(tree))
    assert got["index_no"] == "A-2024-7"
    assert got["doc_no"] == "某政发〔2024〕3号"
    assert got["publisher"] is None


def test_the_article_own_byline_wins_over_the_block() -> None:
    info = "<div class='info'>发布时间:2024-03-08 09:30 来源:浙江法制报</div>"
    rec = record(page("", XXGK_TABLE + info, paras(P)))
    assert rec.source == "浙江法制报"
    assert rec.published_at == "2024-03-08T09:30:00+08:00"
    assert rec.xxgk["published_at"] == "2024-03-07"


def test_a_page_without_a_block_has_every_field_null() -> None:
    info = "<div class='info'>发布时间:2024-03-08 来源:浙江法制报</div>"
    rec = record(page("", info, paras(P)))
    assert rec.xxgk == empty_xxgk()


# --- attachments ---------------------------------------------------------------------


ATTACH = """<div class="fj"><p>附件:</p>
<p><a href="/art/2024/3/7/P020240307_1.pdf">1.行政执法三项制度实施方案.pdf</a></p>
<p><a href="/module/download/downfile.jsp?classid=0&amp;filename=2403071.docx">2.报名表</a></p>
<p><a href="P020240307_3.WPS" title="3.统计表.wps"></a></p>
<p><a href="/art/2024/3/7/P020240307_1.pdf">1.行政执法三项制度实施方案.pdf</a></p>
<p><a href="/art/2024/3/7/art_1229_5811.html">上一篇:关于开展普法宣传的通知</a></p></div>"""


def test_attachments_are_listed_with_their_names_once_each() -> None:
    body = paras(P) + '<p>详见<a href="./P020240307_4.xlsx">执法事项清单</a>。</p>'
    rec = record(page("", "", body, ATTACH))
    base = "http://sft.example.gov.cn"
    assert rec.attachments == [
        {
            "url": f"{base}/art/2024/3/7/P020240307_4.xlsx",
            "name": "执法事项清单",
            "ext": "xlsx",
            "sha256": None,
            "path": None,
        },
        {
            "url": f"{base}/art/2024/3/7/P020240307_1.pdf",
            "name": "1.行政执法三项制度实施方案.pdf",
            "ext": "pdf",
            "sha256": None,
            "path": None,
        },
        {
            "url": f"{base}/module/download/downfile.jsp?classid=0&filename=2403071.docx",
            "name": "2.报名表",
            "ext": "docx",
            "sha256": None,
            "path": None,
        },
        {
            "url": f"{base}/art/2024/3/7/P020240307_3.WPS",
            "name": "3.统计表.wps",
            "ext": "wps",
            "sha256": None,
            "path": None,
        },
    ]


def test_files_in_the_page_furniture_are_not_attachments() -> None:
    tree = parse_html(page("", "", paras(P)))
    assert find_attachments(tree, "http://sft.example.gov.cn/a.html") == []


# --- multi-page articles --------------------------------------------------------------

URL1 = "http://www.xx.gov.cn/xwzx/gzdt/202403/t20240307_4251863.html"
URL2 = URL1.replace(".html", "_1.html")
URL3 = URL1.replace(".html", "_2.html")


def pager(current: int) -> str:
    links = [
        f'<a href="t20240307_4251863{"" if n == 0 else f"_{n}"}.html">{n + 1}</a>'
        if n != current
        else f"<span>{n + 1}</span>"
        for n in range(3)
    ]
    nxt = f' <a href="t20240307_4251863_{current + 1}.html">下一页</a>' if current < 2 else ""
    return f'<div class="page_fy">{" ".join(links)}{nxt}</div>'


def test_continuations_are_found_from_the_pager_and_from_create_page_html() -> None:
    tree = parse_html(page("", "", paras(P[:2]) + pager(0)))
    assert continuation_urls(tree, URL1) == [URL2, URL3]
    script = '<script>createPageHTML(4, 0, "t20240307_4251863", "html");</script>'
    tree = parse_html(page("", "", paras(P[:2]) + script))
    assert continuation_urls(tree, URL1) == [URL2, URL3, URL1.replace(".html", "_3.html")]
    # a further page has none of its own, nor does a page whose links are other articles
    assert continuation_urls(parse_html(page("", "", pager(1))), URL2) == []
    other = '<a href="t20240306_4251001.html">另一篇</a><a href="index_1.html">2</a>'
    assert continuation_urls(parse_html(page("", "", paras(P) + other)), URL1) == []


def test_drop_pager_leaves_the_text() -> None:
    tree = parse_html(page("", "", paras(P[:2]) + pager(0)))
    drop_pager(tree, URL1)
    assert continuation_urls(tree, URL1) == []
    assert P[0] in " ".join(tree.itertext())


def test_a_multi_page_article_is_one_record() -> None:
    info = "<div class='info'>发布时间:2024-03-07 10:12 来源:某某县融媒体中心</div>"
    first = page("", info, paras(P[:2]) + pager(0))
    second = page("", info, paras(P[2:4]) + pager(1))
    third = page("", info, paras(P[4:]) + pager(2), ATTACH)
    rec = record(first, URL1, more=[(URL2, second), (URL3, third)])
    assert rec.text == "\n".join(P)
    assert rec.pages == [URL1, URL2, URL3]
    assert rec.url == URL1
    assert rec.source == "某某县融媒体中心"
    assert rec.published_at == "2024-03-07T10:12:00+08:00"
    assert "page_missing" not in rec.quality_flags
    assert [a["ext"] for a in rec.attachments] == ["pdf", "docx", "wps"]


def test_a_missing_page_is_flagged_and_the_rest_is_kept() -> None:
    first = page("", "", paras(P[:2]) + pager(0))
    third = page("", "", paras(P[4:]) + pager(2))
    rec = record(first, URL1, more=[(URL3, third)], missing=[URL2])
    assert rec.text == "\n".join(P[:2] + P[4:])
    assert rec.pages == [URL1, URL3]
    assert "page_missing" in rec.quality_flags


@pytest.mark.parametrize("html", [page("", "", paras(P))])
def test_a_single_page_article_lists_its_own_url(html: str) -> None:
    rec = record(html)
    assert rec.pages == [rec.url]
    assert rec.attachments == []


def test_labels_run_together_on_one_line_and_label_words_inside_values() -> None:
    line = (
        "<div class='gkxx'><p>发布机构:某某市人民政府办公室 发布日期:2024年1月2日 "
        "文号:某政办发〔2024〕1号 主题分类:综合政务 标题:关于转发省发文机关印发文件的通知</p></div>"
    )
    tree = parse_html(page("", line, paras(P)))
    got = read_xxgk(tree, {})
    assert got["publisher"] == "某某市人民政府办公室"
    assert got["published_at"] == "2024-01-02"
    assert got["doc_no"] == "某政办发〔2024〕1号"
    # 标题 ends the category; 发文机关 inside its value is no label
    assert got["category"] == "综合政务"


def test_an_article_id_that_looks_like_a_page_number_is_the_first_page() -> None:
    url = "http://www.xx.gov.cn/zwgk/t20240301_100.html"
    tree = parse_html(page("", "", paras(P) + '<div><a href="t20240301_100_1.html">2</a></div>'))
    assert continuation_urls(tree, url) == ["http://www.xx.gov.cn/zwgk/t20240301_100_1.html"]


def test_meta_tags_named_by_their_labels_and_a_two_label_block_with_an_index_no() -> None:
    head = '<meta name="索引号" content="B-2024-9"><meta name="发文字号" content="某发〔2024〕2号">'
    tree = parse_html(page(head, "", paras(P)))
    got = read_xxgk(tree, meta_tags(tree))
    assert (got["index_no"], got["doc_no"]) == ("B-2024-9", "某发〔2024〕2号")
    block = (
        "<table><tr><th>索引号</th><td>C-7</td><th>发布日期</th><td>2024.02.03</td></tr></table>"
    )
    rec = record(page("", block, paras(P)))
    assert rec.xxgk["index_no"] == "C-7"
    assert rec.xxgk["published_at"] == "2024-02-03"
    assert "C-7" not in rec.text
    # a footer naming its 主办 and an info line's 发布时间 and 来源 are no such block
    info = "<div class='info'>发布时间:2024-03-08 来源:浙江法制报</div>"
    assert record(page("", info, paras(P))).xxgk == empty_xxgk()


def test_a_next_only_pager_names_the_following_page_from_each_page() -> None:
    from pipelines.multipage import further_pages

    first_page = parse_html(
        page("", "", paras(P[:2]) + f'<a href="{URL2.rsplit("/", 1)[1]}">下一页</a>')
    )
    assert continuation_urls(first_page, URL1) == [URL2]
    second = parse_html(
        page("", "", paras(P[2:4]) + '<a href="t20240307_4251863.html">上一页</a>'
             '<a href="t20240307_4251863_2.html">下一页</a>')
    )  # fmt: skip
    assert further_pages(second, URL2, URL1) == [URL3]


def test_a_revisit_of_a_multi_page_article_does_not_compare_its_text() -> None:
    from pipelines.changes import changed_fields

    info = "<div class='info'>发布时间:2024-03-07 10:12 来源:某某县融媒体中心</div>"
    first = page("", info, paras(P[:2]) + pager(0))
    whole = record(first, URL1, more=[(URL2, page("", info, paras(P[2:4]) + pager(1)))])
    revisited = record(first, URL1)  # a revisit fetches the first page alone
    previous = {f: getattr(whole, f) for f in ("title", "content_hash", "published_at", "source",
                                               "authors", "editors", "responsible_editors",
                                               "original_title", "pages", "url")}  # fmt: skip
    assert changed_fields(previous, revisited) == []
    single = {**previous, "pages": [URL1], "content_hash": "0" * 40}
    assert changed_fields(single, revisited) == ["text"]


# --- a notice that is only its files --------------------------------------------------

NOTICE = "各县(市、区)司法局:现将《{}》印发给你们,请认真贯彻执行。"


def _notice(plan: str, files: list[tuple[str, str]]) -> ArticleItem:
    links = "".join(f'<p><a href="/art/2024/3/7/{href}">{name}</a></p>' for href, name in files)
    body = f"<p>{NOTICE.format(plan)}</p>"
    return record(page("", XXGK_TABLE, body, f'<div class="fj"><p>附件:</p>{links}</div>'))


def test_a_notice_that_is_only_its_files_is_kept_with_them_as_its_text() -> None:
    from pipelines.validate import rejection_reason

    rec = _notice("普法工作要点", [("P1.pdf", "1.普法工作要点.pdf"), ("P2.docx", "2.任务分工表")])
    assert rec.text.splitlines() == [
        NOTICE.format("普法工作要点"),
        "附件:1.普法工作要点.pdf",
        "附件:2.任务分工表",
    ]
    assert len(rec.text) < 80  # under MIN_TEXT_CHARS, and still an article
    assert rejection_reason(rec, 80) is None
    assert "short_body" in rec.quality_flags
    assert "boilerplate_only" not in rec.quality_flags
    assert rec.xxgk["doc_no"] == "浙司〔2024〕12号"
    # the next notice of the same office: the same words, other files, another record
    other = _notice("普法工作要点", [("P3.pdf", "1.法治宣传教育计划.pdf")])
    assert other.content_hash != rec.content_hash


def test_a_short_page_without_attachments_is_still_dropped_as_empty() -> None:
    from pipelines.validate import rejection_reason

    rec = record(page("", "", f"<p>{NOTICE.format('普法工作要点')}</p>"))
    assert rec.attachments == []
    assert rejection_reason(rec, 80) in ("empty", "boilerplate_only")
